"""Where releases run: environments, staged rollout steps, and the periods a release was live."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from encrypted_fields.fields import EncryptedJSONField

from governance.limits import ERROR, NOTE, length_checks
from governance.models import AISystem
from governance.validators import validate_backend_config, validate_web_url
from releases.models.release import Release


class BackendType(models.TextChoices):
    LOCAL = "local", "Local (embedded)"
    WEBHOOK = "webhook", "Signed webhook"
    MLFLOW = "mlflow", "MLflow Model Registry"
    ARGO = "argo", "Argo Rollouts"


class Environment(models.Model):
    """Where a system's releases run (staging, production …) and how a deployment is made real."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=40)
    is_production = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    backend_type = models.CharField(
        max_length=20, choices=BackendType.choices, default=BackendType.LOCAL
    )
    # URLs, names: nothing secret. Every "…url"/"…uri" key is an http(s) URL.
    backend_config = models.JSONField(
        default=dict, blank=True, validators=[validate_backend_config]
    )
    backend_secrets = EncryptedJSONField(default=dict, blank=True)  # never shown, never exported
    # The Prometheus the plan's PromQL triggers and the stages' analyses ask (http(s), with
    # a host); its bearer token in `prometheus_secrets["token"]`, encrypted like the above.
    prometheus_url = models.CharField(
        max_length=500, blank=True, validators=[validate_web_url], verbose_name="Prometheus URL"
    )
    prometheus_secrets = EncryptedJSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["system", "slug"], name="environment_unique_slug"),
        ]

    def __str__(self) -> str:
        return f"{self.system.slug}/{self.slug}"


class RolloutStage(models.TextChoices):
    OFFLINE_VALIDATION = "offline_validation", "Offline validation"
    INTERNAL_TESTING = "internal_testing", "Internal testing"
    SHADOW = "shadow", "Shadow / guarded"
    SEGMENT_MONITORING = "segment_monitoring", "Segment monitoring"
    GENERAL_RELEASE = "general_release", "General release"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class StepAction(models.TextChoices):
    PROMOTE = "promote", "Promote"
    PAUSE = "pause", "Pause"
    RESUME = "resume", "Resume"
    ABORT = "abort", "Abort"


class RolloutStep(models.Model):
    """A request to move a release to a stage in an environment, or to pause, resume or abort
    its rollout there, made real by the backend. A control step (pause, resume, abort) keeps
    the stage and traffic share where the rollout stood."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="rollout_steps")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="rollout_steps"
    )
    action = models.CharField(max_length=10, choices=StepAction.choices, default=StepAction.PROMOTE)
    stage = models.CharField(max_length=24, choices=RolloutStage.choices)
    traffic_percent = models.DecimalField(max_digits=5, decimal_places=2)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    # Why, as the person typed it: for a promotion that skipped a stage or cut a soak short
    # (what it waived in `waived`), for a pause or an abort.
    reason = models.TextField(max_length=NOTE, blank=True)
    waived = ArrayField(models.TextField(), default=list, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # When the step was last handed to the broker: the sweep sends a step again that is still
    # pending long after (the broker was down, or the process holding it died).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    backend_response = models.JSONField(default=dict, blank=True)
    error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = length_checks("rolloutstep", {"error": ERROR, "reason": NOTE})

    def __str__(self) -> str:
        if self.action != StepAction.PROMOTE:
            return f"{self.release}: {self.get_action_display().lower()} in {self.environment.slug}"
        return f"{self.release} → {self.get_stage_display()} in {self.environment.slug}"

    @property
    def is_control(self) -> bool:
        return self.action != StepAction.PROMOTE

    @property
    def control_done(self) -> str:
        """A control as what happened to the rollout: "Paused", "Resumed", "Aborted"."""
        return {"pause": "Paused", "resume": "Resumed", "abort": "Aborted"}.get(self.action, "")


class Deployment(models.Model):
    """A period during which a release was the one live (general release) in an environment.

    Periods of one environment never overlap: at most one is open (ended_at is null), and
    the service that opens one closes the one before in the same transaction.
    """

    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="deployments")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    via = models.CharField(max_length=20)  # "rollout" or "rollback"
    step = models.ForeignKey(
        RolloutStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(ended_at__isnull=True),
                name="deployment_one_live",
            ),
        ]
        indexes = [models.Index(fields=["environment", "-started_at"], name="deployment_history")]

    def __str__(self) -> str:
        return (
            f"{self.release} live in {self.environment.slug} from {self.started_at:%Y-%m-%d %H:%M}"
        )


class LocalDeploymentState(models.Model):
    """What the local backend has "deployed" in an environment (the embedded default's platform)."""

    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="+")
    live_version = models.CharField(max_length=64, blank=True)
    candidate_version = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=24, blank=True)
    traffic_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    paused = models.BooleanField(default=False)  # the candidate's rollout is held
    applied_keys = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"local state of {self.environment_id}"

"""Rollback plans written before release, and rollback requests (and drills) with their
forensic records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.limits import ERROR, NOTE, QUERY, length_checks
from releases.models.deployment import Environment
from releases.models.release import Release
from releases.models.review import Comparison


class RollbackMode(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTO_PROPOSE = "auto_propose", "Auto-propose"
    AUTOMATIC = "automatic", "Automatic"


class RollbackPlan(models.Model):
    """Written before release: where to roll back to, who may, and what triggers it."""

    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="rollback_plan")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    target_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    mode = models.CharField(
        max_length=20, choices=RollbackMode.choices, default=RollbackMode.MANUAL
    )
    cooldown_minutes = models.PositiveIntegerField(default=30)
    # A rollout stage whose analysis passes moves on to the next stage by itself.
    advance_on_analysis = models.BooleanField(default=False)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rollback plan of {self.release.version}"


class TriggerOutcome(models.TextChoices):
    """What the last evaluation of a PromQL trigger found."""

    CLEAR = "clear", "Clear"  # a value on the good side of the threshold
    HOLDING = "holding", "Holding"  # on the wrong side, for less than the window so far
    FIRED = "fired", "Fired"  # held for the whole window: the plan was asked to act
    NO_DATA = "no_data", "No data"  # Prometheus dead, hung, slow, or an empty answer
    ERROR = "error", "Error"  # Prometheus refused the query (e.g. invalid PromQL)


class RollbackTrigger(models.Model):
    """A condition that calls for rollback, e.g. p95 latency > 300 ms for 5 minutes.

    Without a `query` the trigger speaks for alerts that name its metric (incidents'
    triggers service). With one, it is a PromQL expression that beat asks the environment's
    Prometheus (`releases.services.promql_triggers`): the condition must hold at every
    evaluation for the whole window (Prometheus' own `for`) before the plan acts; an
    evaluation without data starts the window again. The `holding_since`… fields are that
    evaluation's state, not part of the plan as written.
    """

    plan = models.ForeignKey(RollbackPlan, on_delete=models.CASCADE, related_name="triggers")
    metric = models.CharField(max_length=120)  # a PromQL trigger's name
    query = models.TextField(max_length=QUERY, blank=True)  # PromQL; empty: alert-driven
    comparison = models.CharField(max_length=10, choices=Comparison.choices[:4])
    threshold = models.DecimalField(max_digits=20, decimal_places=6)
    window_minutes = models.PositiveIntegerField()
    holding_since = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=10, choices=TriggerOutcome.choices, blank=True)
    last_value = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = length_checks("rollbacktrigger", {"query": QUERY, "last_error": ERROR})

    def __str__(self) -> str:
        comparison = self.get_comparison_display()
        if self.query:
            threshold = f"{self.threshold.normalize():f}"
            return f"{self.query} {comparison} {threshold} for {self.window_minutes} min"
        return f"{self.metric} {comparison} {self.threshold} for {self.window_minutes} min"

    @property
    def is_promql(self) -> bool:
        return bool(self.query)


class RollbackStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"  # by a trigger of the plan, waiting for a rollback owner
    REQUESTED = "requested", "Requested"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Verified"
    FAILED = "failed", "Failed"
    DISMISSED = "dismissed", "Dismissed"  # a proposal nobody confirmed

    @classmethod
    def active(cls) -> list[str]:
        return [cls.PROPOSED, cls.REQUESTED, cls.RUNNING]


class RollbackRequest(models.Model):
    """One decision to put an earlier release back live in an environment, and how it went.

    At most one is active per environment (a partial unique index): a second press while one
    is proposed, requested or running returns that one. The idempotency key goes to the
    backend with every call, so a re-delivered task changes nothing twice.
    """

    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="rollback_requests"
    )
    from_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=RollbackStatus.choices, default=RollbackStatus.REQUESTED
    )
    reason = models.TextField(max_length=NOTE)
    idempotency_key = models.CharField(max_length=64, unique=True)
    # People, or None when a trigger of the plan asked (mode "automatic" or a proposal).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.JSONField(default=dict, blank=True)  # the evidence an automatic ask had
    is_drill = models.BooleanField(default=False)
    requested_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True)  # last handed to the broker
    started_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a running task's claim
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    backend_response = models.JSONField(default=dict, blank=True)
    error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            *length_checks("rollbackrequest", {"reason": NOTE, "error": ERROR}),
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(status__in=["proposed", "requested", "running"]),
                name="rollback_one_active_per_environment",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "enqueued_at"],
                condition=Q(status__in=["requested", "running"]),
                name="rollback_sweep",
            ),
        ]

    def __str__(self) -> str:
        return f"rollback {self.pk}: {self.environment.slug} → {self.to_release.version}"

    @property
    def is_active(self) -> bool:
        return self.status in RollbackStatus.active()


class ForensicRecord(models.Model):
    """What a rollback was about to destroy, captured before the backend was called.

    Append-only (a trigger refuses UPDATE and DELETE): the investigation needs the state as it
    was, not as anyone remembers it.
    """

    request = models.OneToOneField(
        RollbackRequest, on_delete=models.PROTECT, related_name="forensics"
    )
    captured_at = models.DateTimeField()
    backend_state = models.JSONField(default=dict)  # the deployment as the backend reported it
    context = models.JSONField(default=dict)  # alerts, the last timeline entries …
    digest = models.CharField(max_length=64)  # sha256 of the canonical JSON of the above

    def __str__(self) -> str:
        return f"forensics of rollback {self.request_id}"

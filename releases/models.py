"""Releases of the whole decision stack, their gates, approvals, rollback plans and rollouts."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from encrypted_fields.fields import EncryptedJSONField

from governance.limits import COMMENT, ERROR, NAME, NOTE, PROSE, length_checks
from governance.models import AISystem
from governance.validators import (
    validate_artefact_uri,
    validate_backend_config,
    validate_evidence_uri,
)


class ComponentKind(models.TextChoices):
    """The layers of a decision stack, versioned together as one release."""

    MODEL = "model", "Model"
    FUSION = "fusion", "Fusion / ensemble"
    THRESHOLD_POLICY = "threshold_policy", "Threshold policy"
    SDK = "sdk", "SDK"
    DATASET = "dataset", "Dataset"
    EVALUATION = "evaluation", "Evaluation report"


class ChangeCategory(models.TextChoices):
    """Changes that demand formal review whatever the size of the diff."""

    NEW_ARCHITECTURE = "new_architecture", "New architecture"
    NEW_FUSION_LOGIC = "new_fusion_logic", "New fusion logic"
    THRESHOLD_POLICY_UPDATE = "threshold_policy_update", "Threshold / policy update"
    SDK_MAJOR_CHANGE = "sdk_major_change", "SDK major change"
    NEW_CHANNEL = "new_channel", "New channel"
    MAJOR_DATASET_REFRESH = "major_dataset_refresh", "Major dataset refresh"


class ReleaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ROLLING_OUT = "rolling_out", "Rolling out"
    LIVE = "live", "Live"
    SUPERSEDED = "superseded", "Superseded"
    ROLLED_BACK = "rolled_back", "Rolled back"


# The fields of the model card, in the order the page shows them.
MODEL_CARD_FIELDS = (
    "what_changed",
    "why",
    "data_used",
    "channels_tested",
    "expected_benefits",
    "known_risks",
    "rollback_trigger",
)


class Release(models.Model):
    """One version of a system's whole decision stack. Frozen once submitted for review."""

    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(max_length=64)
    title = models.CharField(max_length=NAME)
    status = models.CharField(
        max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_releases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The model card.
    what_changed = models.TextField(max_length=PROSE)
    why = models.TextField(max_length=PROSE)
    data_used = models.TextField(max_length=PROSE)
    channels_tested = models.TextField(max_length=PROSE)
    expected_benefits = models.TextField(max_length=PROSE)
    known_risks = models.TextField(max_length=PROSE)
    rollback_trigger = models.TextField(max_length=PROSE)
    change_categories = ArrayField(
        models.CharField(max_length=32, choices=ChangeCategory.choices), default=list, blank=True
    )
    # sha256 over the stack and the card, fixed at submission; approvals cite it.
    content_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "version"], name="release_unique_version"),
            *length_checks("release", dict.fromkeys(MODEL_CARD_FIELDS, PROSE)),
        ]
        indexes = [models.Index(fields=["system", "status"], name="release_system_status")]

    def __str__(self) -> str:
        return f"{self.system.slug} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("releases:release-detail", kwargs={"pk": self.pk})

    @property
    def is_frozen(self) -> bool:
        return self.submitted_at is not None

    def change_category_labels(self) -> list[str]:
        return [ChangeCategory(c).label for c in self.change_categories]


class ReleaseComponent(models.Model):
    """One layer of the stack: what it is, where it lives, and the digest of its content."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="components")
    kind = models.CharField(max_length=20, choices=ComponentKind.choices)
    version = models.CharField(max_length=100)
    uri = models.CharField(
        max_length=500,
        validators=[validate_artefact_uri],
        help_text="Where the artefact lives: https://, s3://, gs://, abfss://, dbfs:/, models:/, "
        "runs:/, pypi://, docker://, oci://, hf://, git://, git+https:// or git+ssh://.",
    )
    digest = models.CharField(max_length=64, help_text="sha256 of the artefact, hex")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "kind"], name="component_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"


class GateCriterion(models.TextChoices):
    BENCHMARK = "benchmark", "Benchmark above target"
    PROTECTED_SEGMENTS = "protected_segments", "No major regression in protected segments"
    LATENCY = "latency", "Latency within budget"
    CALIBRATION = "calibration", "Calibration reviewed"
    ERROR_ANALYSIS = "error_analysis", "Error analysis of top failures completed"
    ROLLBACK_READY = "rollback_ready", "Rollback path ready"
    OWNERS_RECORDED = "owners_recorded", "Owners and approvers recorded"


class GatePolicy(models.Model):
    """Which criteria a system's releases must pass, and how many approvals they need."""

    system = models.OneToOneField(AISystem, on_delete=models.CASCADE, related_name="gate_policy")
    required_criteria = ArrayField(
        models.CharField(max_length=32, choices=GateCriterion.choices), default=list
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "gate policies"

    def __str__(self) -> str:
        return f"gate policy of {self.system}"

    def criterion_labels(self) -> list[str]:
        return [GateCriterion(c).label for c in self.required_criteria]


class Comparison(models.TextChoices):
    GTE = "gte", "≥"
    LTE = "lte", "≤"
    GT = "gt", ">"
    LT = "lt", "<"
    ATTESTED = "attested", "attested"


class GateCheck(models.Model):
    """One measurement against one criterion; the latest check of a criterion is in force."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="gate_checks")
    criterion = models.CharField(max_length=32, choices=GateCriterion.choices)
    comparison = models.CharField(max_length=10, choices=Comparison.choices)
    measured_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    target = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    passed = models.BooleanField()
    evidence_uri = models.CharField(
        max_length=500,
        validators=[validate_evidence_uri],
        help_text="The report, dashboard or notebook: https://, s3://, gs:// "
        "or a page of this site.",
    )
    note = models.TextField(max_length=NOTE, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Evidence that goes stale: a rollback drill proves the path for ROLLBACK_DRILL_DAYS.
    valid_until = models.DateTimeField(null=True, blank=True)
    drill = models.ForeignKey(
        "RollbackRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gate_checks",
        help_text="The rollback drill this check records.",
    )

    class Meta:
        ordering = ["criterion", "-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["release", "criterion", "-recorded_at"], name="gatecheck_latest")
        ]
        constraints = length_checks("gatecheck", {"note": NOTE})

    def __str__(self) -> str:
        return f"{self.get_criterion_display()}: {'pass' if self.passed else 'fail'}"

    def expired(self, now: datetime | None = None) -> bool:
        return self.valid_until is not None and self.valid_until <= (now or timezone.now())


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    REJECT = "reject", "Reject"


class Approval(models.Model):
    """An approver's decision on a release, bound to the content digest they saw."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(max_length=COMMENT)
    release_digest = models.CharField(max_length=64)
    decided_at = models.DateTimeField(auto_now_add=True)
    # A rolled-back release comes back only through new approvals that cite the rollback
    # (and so the incident) that took it down; the first review's approvals cite none.
    cites_rollback = models.ForeignKey(
        "RollbackRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reapprovals",
    )

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "approver"],
                condition=Q(cites_rollback__isnull=True),
                name="approval_one_per_approver",
            ),
            models.UniqueConstraint(
                fields=["release", "approver", "cites_rollback"],
                condition=Q(cites_rollback__isnull=False),
                name="reapproval_one_per_approver",
            ),
            *length_checks("approval", {"comment": COMMENT}),
        ]

    def __str__(self) -> str:
        # The audit trail's name for it: the release and the account, not bare ids.
        return (
            f"{self.get_decision_display()}: {self.release.version} "
            f"by {self.approver.get_username()}"
        )


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

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["system", "slug"], name="environment_unique_slug"),
        ]

    def __str__(self) -> str:
        return f"{self.system.slug}/{self.slug}"


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
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rollback plan of {self.release.version}"


class RollbackTrigger(models.Model):
    """A condition that calls for rollback, e.g. p95 latency > 300 ms for 5 minutes."""

    plan = models.ForeignKey(RollbackPlan, on_delete=models.CASCADE, related_name="triggers")
    metric = models.CharField(max_length=120)
    comparison = models.CharField(max_length=10, choices=Comparison.choices[:4])
    threshold = models.DecimalField(max_digits=20, decimal_places=6)
    window_minutes = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        comparison = self.get_comparison_display()
        return f"{self.metric} {comparison} {self.threshold} for {self.window_minutes} min"


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


class RolloutStep(models.Model):
    """A request to move a release to a stage in an environment, made real by the backend."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="rollout_steps")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="rollout_steps"
    )
    stage = models.CharField(max_length=24, choices=RolloutStage.choices)
    traffic_percent = models.DecimalField(max_digits=5, decimal_places=2)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    backend_response = models.JSONField(default=dict, blank=True)
    error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = length_checks("rolloutstep", {"error": ERROR})

    def __str__(self) -> str:
        return f"{self.release} → {self.get_stage_display()} in {self.environment.slug}"


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
    applied_keys = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"local state of {self.environment_id}"


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

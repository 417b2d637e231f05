"""The review of a release: the gate policy, gate checks and approvals."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.limits import COMMENT, NOTE, length_checks
from governance.models import AISystem
from governance.validators import (
    validate_evidence_uri,
)
from releases.models.deployment import RolloutStage
from releases.models.release import Release


class GateCriterion(models.TextChoices):
    BENCHMARK = "benchmark", "Benchmark above target"
    PROTECTED_SEGMENTS = "protected_segments", "No major regression in protected segments"
    LATENCY = "latency", "Latency within budget"
    CALIBRATION = "calibration", "Calibration reviewed"
    ERROR_ANALYSIS = "error_analysis", "Error analysis of top failures completed"
    ROLLBACK_READY = "rollback_ready", "Rollback path ready"
    OWNERS_RECORDED = "owners_recorded", "Owners and approvers recorded"


SOAK_MAX_MINUTES = 7 * 24 * 60  # a stage's minimum soak: a week at most


class GatePolicy(models.Model):
    """Which criteria a system's releases must pass, and how many approvals they need."""

    system = models.OneToOneField(AISystem, on_delete=models.CASCADE, related_name="gate_policy")
    required_criteria = ArrayField(
        models.CharField(max_length=32, choices=GateCriterion.choices), default=list
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # Rollout stages a release must have passed in an environment before any later stage
    # there (the deployment gate refuses a skip); none by default.
    required_stages = ArrayField(
        models.CharField(max_length=24, choices=RolloutStage.choices), default=list, blank=True
    )
    # Minutes a stage's step must have been applied before the rollout moves past it, by
    # stage ({"segment_monitoring": 60}); a stage not named has no minimum.
    soak_minutes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "gate policies"

    def __str__(self) -> str:
        return f"gate policy of {self.system}"

    def criterion_labels(self) -> list[str]:
        return [GateCriterion(c).label for c in self.required_criteria]

    def stage_labels(self) -> list[str]:
        return [RolloutStage(s).label for s in self.required_stages]

    def soak_labels(self) -> list[tuple[str, int]]:
        """The minimum soaks in stage order: (label, minutes)."""
        return [
            (s.label, self.soak_minutes[s.value])
            for s in RolloutStage
            if self.soak_minutes.get(s.value)
        ]


class Comparison(models.TextChoices):
    GTE = "gte", "≥"
    LTE = "lte", "≤"
    GT = "gt", ">"
    LT = "lt", "<"
    ATTESTED = "attested", "attested"


# The comparisons a number is held to (rollback triggers, metric rules): all but "attested".
NUMERIC_COMPARISONS = Comparison.choices[:4]


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
    # None: recorded by the registry intake from the training run's metrics (the machine's
    # reading, not a person's judgement: it bars nobody from approving).
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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

"""A release: the whole decision stack (a component per kind), its model card and status."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.urls import reverse

from governance.limits import NAME, PROSE, length_checks
from governance.models import AISystem
from governance.validators import (
    validate_artefact_uri,
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
    # None while only the registry intake (MLflow) has touched it: the first model owner who
    # edits or submits it becomes its author, and so never approves it.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="authored_releases",
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
    # sha256 over the six components alone (releases.content.stack_digest), kept current
    # while a draft changes: POST /api/releases/ answers a stack it already holds with it.
    stack_digest = models.CharField(max_length=64, blank=True)
    # The release its author started from (its stack and card prefilled the form): the page
    # diffs against it, so the diff shows what the author changed.
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "version"], name="release_unique_version"),
            *length_checks("release", dict.fromkeys(MODEL_CARD_FIELDS, PROSE)),
        ]
        indexes = [
            models.Index(fields=["system", "status"], name="release_system_status"),
            models.Index(fields=["system", "stack_digest"], name="release_system_stack"),
        ]

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

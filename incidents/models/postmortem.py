"""The post-mortem of an incident and its action items."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.limits import NAME, PROSE, length_checks
from incidents.models.incident import Incident

POSTMORTEM_SECTIONS = (
    "summary",
    "impact",
    "root_cause_code",
    "root_cause_model",
    "root_cause_data",
    "contributing_factors",
    "detection_gaps",
    "went_well",
    "went_badly",
)


class PostMortem(models.Model):
    """Blameless review of an incident. Publishing it closes the incident."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    summary = models.TextField(max_length=PROSE, blank=True)
    impact = models.TextField(
        max_length=PROSE, blank=True, help_text="Who or what was affected, and for how long"
    )
    root_cause_code = models.TextField(max_length=PROSE, blank=True)
    root_cause_model = models.TextField(max_length=PROSE, blank=True)
    root_cause_data = models.TextField(max_length=PROSE, blank=True)
    contributing_factors = models.TextField(max_length=PROSE, blank=True)
    detection_gaps = models.TextField(max_length=PROSE, blank=True)
    went_well = models.TextField(max_length=PROSE, blank=True)
    went_badly = models.TextField(max_length=PROSE, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = length_checks("postmortem", dict.fromkeys(POSTMORTEM_SECTIONS, PROSE))

    def __str__(self) -> str:
        return f"post-mortem of INC-{self.incident_id}"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class ActionItem(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=NAME)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["owner", "status"], name="actionitem_owner_status")]

    def __str__(self) -> str:
        return self.title

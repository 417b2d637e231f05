"""The page an incident raised in PagerDuty: one per incident, triggered and resolved under
one dedup key (incidents.paging)."""

from __future__ import annotations

from django.db import models

from governance.limits import ERROR, length_checks


class PageStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    RESOLVED = "resolved", "Resolved"


class Page(models.Model):
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="page"
    )
    dedup_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=PageStatus.choices)
    triggered_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField()  # the last event PagerDuty accepted
    # What PagerDuty last answered that was not an acceptance (the task retries meanwhile).
    error = models.TextField(max_length=ERROR, blank=True)

    class Meta:
        constraints = length_checks("page", {"error": ERROR})

    def __str__(self) -> str:
        return f"page {self.dedup_key} ({self.status})"

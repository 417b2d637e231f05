"""Drift: a difference between what a deployment backend reports live and Failsafe's record.

A change that went around Failsafe (someone moved the MLflow alias by hand, a pipeline that
never asked the gate) shows as a backend reporting another version than the open
Deployment. The reconcile (releases/drift/) records it here once per divergence: a partial
unique constraint allows one open drift per environment, however many reconciles (or
webhooks) see it at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from governance.limits import NAME
from releases.models.deployment import Environment
from releases.models.release import Release


class DriftResolution(models.TextChoices):
    RESTORED = "restored", "The backend reports the recorded release again"
    ADOPTED = "adopted", "The observed release was adopted"


class Drift(models.Model):
    """One divergence of an environment's backend from the deployment record, from the first
    reconcile that saw it to the one that saw the record again (or its adoption)."""

    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="drifts")
    # What Failsafe records live there: the approved release a rollback puts back.
    recorded_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    # What the backend reports, as it says it: a release version, "model version 7" (an MLflow
    # version Failsafe never tagged), or "" when it reports nothing live.
    observed_version = models.CharField(max_length=NAME, blank=True)
    observed_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    observed_detail = models.JSONField(default=dict, blank=True)  # the backend's own words
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    seen_count = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=DriftResolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            # One open drift per environment: the reconciles that see it at once record it once.
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(resolved_at__isnull=True),
                name="drift_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"drift {self.pk}: {self.environment_id} reports {self.observed_label}"

    @property
    def observed_label(self) -> str:
        return self.observed_version or "nothing live"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

"""Alerts from Alertmanager and other sources, and the tokens they post with."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.models import AISystem
from incidents.models.incident import Incident
from releases.models import Environment

TEST_SOURCE = "test"  # an alert an owner sent to try the intake, not monitoring's


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One notification from monitoring (Alertmanager or a generic webhook), as received."""

    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="alerts")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    source = models.CharField(max_length=20)  # "alertmanager", "generic", or TEST_SOURCE
    fingerprint = models.CharField(max_length=128)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    name = models.CharField(max_length=200)
    severity = models.CharField(max_length=20, blank=True)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["system", "fingerprint"], name="alert_fingerprint")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_test(self) -> bool:
        """Sent from the alert-tokens page to try the intake (no payload can claim this)."""
        return self.source == TEST_SOURCE


class AlertToken(models.Model):
    """A bearer token monitoring uses to post alerts for one system. Stored hashed; shown once."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="alert_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)  # identifies the token in lists, reveals nothing
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The incidents its alerts declared in the current minute (from `window_started_at`),
    # counted under this row's lock: ALERT_NEW_INCIDENTS_PER_MINUTE bounds them.
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_declared = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

"""Incidents from alerts: the open incident an alert may join, and the one it declares (as
monitoring, with its group and its token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from governance.limits import NAME, shorten
from governance.models import AISystem
from incidents.models import Category, Incident, Source, Stage
from incidents.services.alerts.parse import ANNOTATION_TEXT, IncomingAlert
from incidents.services.lifecycle import declare_incident
from releases.models import Environment

if TYPE_CHECKING:
    from incidents.services.alerts.storm import Post


def open_incident(system: AISystem, **match: Any) -> Incident | None:
    # Read, not locked: the group's (or fingerprint's) lock already serialises the alerts
    # that could join it, and a person closing it meanwhile is not held up (an alert that
    # lands as it closes joins it, as it would have a moment before).
    return (
        Incident.objects.filter(system=system, **match)
        .exclude(stage=Stage.CLOSED)
        .order_by("-detected_at", "-id")
        .first()
    )


def declare_from_alert(
    post: Post,
    alert: IncomingAlert,
    environment: Environment | None,
    severity: str,
    *,
    title: str = "",
    summary: str = "",
    storm: bool = False,
) -> Incident:
    """An incident the alert declares (as monitoring), with its group and its token."""
    category = alert.labels.get("category", "")
    # Words from the alert on one line, cut to fit: a long summary titles the incident
    # shortened (the alert keeps it whole); a blank one leaves the alert's name.
    words = " ".join((title or alert.annotations.get("summary", "")).split())
    incident = declare_incident(
        actor=None,
        system=post.system,
        environment=environment,
        title=shorten(words or " ".join(alert.name.split()), NAME),
        severity=severity,
        category=category if category in Category.values else Category.PERFORMANCE,
        source=Source.ALERT,
        summary=shorten(summary or alert.annotations.get("description", ""), _SUMMARY),
        fingerprint="" if storm else alert.fingerprint,
        # Detected when it started, not in the future a sender's clock may claim.
        detected_at=min(alert.starts_at, timezone.now()) if alert.starts_at else None,
    )
    incident.group_key = "" if storm else alert.group_key
    incident.alert_token, incident.is_storm = post.token, storm
    incident.save(update_fields=["group_key", "alert_token", "is_storm"])
    return incident


_SUMMARY = Incident._meta.get_field("summary").max_length or ANNOTATION_TEXT

"""Incidents from alerts: the open incident an alert may join, and the one it declares (as
monitoring, with its group and its token)."""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING

from django.db.models import Case, Q, Value, When
from django.utils import timezone

from governance.limits import NAME, shorten
from governance.models import AISystem
from incidents.models import Category, Incident, Source, Stage
from incidents.services.alerts.parse import ANNOTATION_TEXT, IncomingAlert
from incidents.services.lifecycle import declare_incident
from releases.models import Environment

if TYPE_CHECKING:
    from incidents.services.alerts.storm import Post


def open_incident(system: AISystem, *wanted: Q) -> Incident | None:
    """The newest open incident of the system that matches the first of `wanted` any
    matches: one query, however many are asked."""
    # Read, not locked: the group's (or fingerprint's) lock already serialises the alerts
    # that could join it, and a person closing it meanwhile is not held up (an alert that
    # lands as it closes joins it, as it would have a moment before).
    rank = Case(*(When(q, then=Value(n)) for n, q in enumerate(wanted)), default=Value(0))
    incident = (
        Incident.objects.filter(functools.reduce(operator.or_, wanted), system=system)
        .exclude(stage=Stage.CLOSED)
        .select_related("environment")  # the triggers read it, the timeline the system
        .order_by(rank, "-detected_at", "-id")
        .first()
    )
    if incident is not None:
        incident.system = system
    return incident


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
    return declare_incident(
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
        group_key="" if storm else alert.group_key,
        alert_token=post.token,
        is_storm=storm,
    )


_SUMMARY = Incident._meta.get_field("summary").max_length or ANNOTATION_TEXT

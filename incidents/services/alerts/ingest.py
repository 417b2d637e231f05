"""An alert ingested: one post's alerts recorded in one transaction, each joined to its group's
or fingerprint's open incident, else declaring one (within its token's rate), with what the
sender should be told; the plans' triggers then evaluated."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q

from governance.models import AISystem
from incidents.models import Alert, AlertStatus, AlertToken, EntryKind, Incident, Severity
from incidents.notifications import tell_owners_of_unmatched_environment
from incidents.services import triggers
from incidents.services.alerts.declare import declare_from_alert, open_incident
from incidents.services.alerts.environments import (
    EnvironmentMatch,
    environments_of,
    match_environment,
)
from incidents.services.alerts.parse import IncomingAlert
from incidents.services.alerts.storm import Post, join_storm
from incidents.services.timeline import record

logger = logging.getLogger(__name__)

# Monitoring's severity label → incident severity. Unlisted severities are recorded only.
PAGING_SEVERITIES = {
    "critical": Severity.SEV1,
    "page": Severity.SEV2,
    "high": Severity.SEV2,
    "error": Severity.SEV2,
    "warning": Severity.SEV3,
}


def _serialise(system: AISystem, alerts: list[IncomingAlert]) -> None:
    """Two deliveries of one group (Alertmanager's HA pair sends each twice), or of one alert
    without a group, arriving at once must not open two incidents: one advisory lock per
    group, else per fingerprint, taken in a fixed order so that two posts cannot deadlock."""
    names = {f"group:{a.group_key}" if a.group_key else a.fingerprint for a in alerts}
    keys = sorted(
        int.from_bytes(hashlib.sha256(f"{system.pk}:{n}".encode()).digest()[:8], "big", signed=True)
        for n in names
    )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@dataclass(frozen=True)
class ReceivedAlert:
    """An alert as stored, and what the sender should be told of it."""

    alert: Alert
    match: EnvironmentMatch
    said: tuple[str, ...] = ()  # besides the environment's warning (e.g. the storm)

    @property
    def environment_slug(self) -> str | None:
        return self.match.environment.slug if self.match.environment else None

    @property
    def warnings(self) -> list[str]:
        return ([self.match.warning] if self.match.warning else []) + list(self.said)


def ingest_alert(*, system: AISystem, alert: IncomingAlert) -> Alert:
    """Record the alert; join the open incident with its fingerprint or declare one."""
    return receive_alert(system=system, alert=alert).alert


def receive_alert(*, system: AISystem, alert: IncomingAlert) -> ReceivedAlert:
    """`ingest_alert`, with what the sender should be told (the environment's warnings)."""
    (received,) = receive_alerts(system=system, alerts=[alert])
    return received


def _urgency(alert: IncomingAlert) -> tuple[bool, int]:
    """Firing before resolved, then the most severe first."""
    severity = PAGING_SEVERITIES.get(alert.severity.lower())
    rank = Severity.values.index(severity) if severity else len(Severity.values)
    return (alert.status != AlertStatus.FIRING, rank)


@transaction.atomic
def receive_alerts(
    *, system: AISystem, alerts: list[IncomingAlert], token: AlertToken | None = None
) -> list[ReceivedAlert]:
    """Record one post's alerts, in one transaction: each joins its group's open incident,
    else its fingerprint's, else declares one within `token`'s rate of new incidents, else
    joins the token's storm incident (see the module's docstring). The plans' triggers are
    evaluated once per incident an alert fired in. What to tell the sender, in post order."""
    _serialise(system, alerts)
    post = Post(system, token, environments_of(system))
    received: dict[int, ReceivedAlert] = {}
    fired: dict[int, Incident] = {}
    for n in sorted(range(len(alerts)), key=lambda n: _urgency(alerts[n])):
        alert = alerts[n]
        match = match_environment(system, alert.labels, post.environments)
        incident, said = _incident_for(post, alert, match)
        stored = Alert.objects.create(
            system=system,
            environment=match.environment,
            incident=incident,
            source=alert.source,
            fingerprint=alert.fingerprint,
            status=alert.status,
            name=alert.name,
            severity=alert.severity,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
        )
        if incident is not None:
            summary = alert.annotations.get("summary", "")
            heard = f"{alert.name} {alert.status}" + (f": {summary}" if summary else ".")
            record(
                incident,
                actor=None,
                kind=EntryKind.ALERT,
                action=f"alert.{alert.status}",
                body=f"Test alert from {alert.test_by}. {heard}" if alert.test_by else heard,
                data={
                    "alert": stored.pk,
                    "status": alert.status,
                    "fingerprint": alert.fingerprint,
                    "labels": alert.labels,
                    **({"test": True, "sent_by": alert.test_by} if alert.test_by else {}),
                },
            )
            if match.warning:
                _say_on_timeline(incident, stored, match)
            if alert.status == AlertStatus.FIRING:
                fired[incident.pk] = incident
        if match.unmatched:
            logger.warning(
                "alert %s of %s: %s", alert.name, system.slug, match.warning,
                extra={"alert": stored.pk, "incident": stored.incident_id},
            )  # fmt: skip
        received[n] = ReceivedAlert(stored, match, said)
    if alerts[0].truncated:
        _say_truncated(post, alerts[0])
    for incident in fired.values():
        triggers.evaluate(incident)  # the plan may call for a rollback now
    return [received[n] for n in range(len(alerts))]


def _incident_for(
    post: Post, alert: IncomingAlert, match: EnvironmentMatch
) -> tuple[Incident | None, tuple[str, ...]]:
    """The incident the alert joins or declares, and what the sender should hear of it."""
    group, same_fingerprint = alert.group_key, Q(fingerprint=alert.fingerprint)
    if group and (known := post.by_group.get(group)) is not None:
        return known, ()
    if group and group not in post.by_group:
        # The group's open incident, else the fingerprint's: asked in one query.
        incident = open_incident(post.system, Q(group_key=group), same_fingerprint)
        if incident is not None and incident.group_key == group:
            post.by_group[group] = incident
            return incident, ()
        post.by_group[group] = None
    else:
        incident = open_incident(post.system, same_fingerprint)
    if incident is not None:
        if group and not incident.group_key:  # an incident from before groups takes its group
            incident.group_key = group
            incident.save(update_fields=["group_key"])
            post.by_group[group] = incident
        return incident, ()
    severity = PAGING_SEVERITIES.get(alert.severity.lower())
    if alert.status != AlertStatus.FIRING or severity is None:
        return None, ()
    if not post.admit():
        return join_storm(post, alert, match)
    incident = declare_from_alert(post, alert, match.environment, severity)
    if group:
        post.by_group[group] = incident
    return incident, ()


def _say_truncated(post: Post, alert: IncomingAlert) -> None:
    """Once per incident: Alertmanager left alerts of its group out (its max_alerts)."""
    incident = post.by_group.get(alert.group_key)
    if incident is None or incident.timeline.filter(data__has_key="truncated").exists():
        return
    record(
        incident,
        actor=None,
        kind=EntryKind.ALERT,
        action="alert.truncated",
        body=f"Alertmanager left {alert.truncated} alerts of this group out of a notification "
        "(its webhook's max_alerts): they are not among the incident's alerts.",
        data={"truncated": alert.truncated},
    )


def _say_on_timeline(incident: Incident, stored: Alert, match: EnvironmentMatch) -> None:
    """Once per incident and label value: what the alert's environment label matched, or
    not; the owners hear of an incident left without an environment."""
    said = {"label": match.label, "value": match.value}
    if incident.timeline.filter(kind=EntryKind.ALERT, data__environment_label=said).exists():
        return
    record(
        incident,
        actor=None,
        kind=EntryKind.ALERT,
        action="alert.environment_unmatched" if match.unmatched else "alert.environment_assumed",
        body=match.warning,
        data={
            "alert": stored.pk,
            "environment_label": said,
            "environment": match.environment.slug if match.environment else None,
            "environments": [
                {"slug": e.slug, "name": e.name, "is_production": e.is_production}
                for e in match.known
            ],
        },
    )
    if match.unmatched and incident.environment_id is None:
        tell_owners_of_unmatched_environment(incident.pk, label=match.label, value=match.value)

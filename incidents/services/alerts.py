"""Alerts from monitoring: recorded, joined to the open incident with the same fingerprint,
or declaring a new one when they fire at a severity that pages."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from governance.models import AISystem
from incidents.models import (
    Alert,
    AlertStatus,
    Category,
    EntryKind,
    Incident,
    Severity,
    Source,
    Stage,
)
from incidents.services import triggers
from incidents.services.lifecycle import declare_incident
from incidents.services.timeline import record
from releases.models import Environment

# Monitoring's severity label → incident severity. Unlisted severities are recorded only.
PAGING_SEVERITIES = {
    "critical": Severity.SEV1,
    "page": Severity.SEV2,
    "high": Severity.SEV2,
    "error": Severity.SEV2,
    "warning": Severity.SEV3,
}
ENVIRONMENT_LABELS = ("environment", "env")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert, whatever format it came in."""

    source: str
    fingerprint: str
    status: str
    name: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None


class AlertPayloadError(ValueError):
    """The payload is not an alert we understand; the message says what is wrong."""


def _time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None  # Alertmanager sends the zero time for "not ended"
    parsed = parse_datetime(value)
    if parsed is None:
        raise AlertPayloadError(f"{value!r} is not an ISO 8601 time")
    return parsed


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise AlertPayloadError(f"{what} must be an object of strings")
    return value


def _fingerprint(name: str, labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([name, sorted(labels.items())]).encode()).hexdigest()[:32]


def parse_alertmanager(payload: Any) -> list[IncomingAlert]:
    """Prometheus Alertmanager's webhook payload, version 4."""
    if not isinstance(payload, dict) or str(payload.get("version")) != "4":
        raise AlertPayloadError("expected an Alertmanager webhook payload of version 4")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise AlertPayloadError("alerts must be a non-empty list")
    parsed = []
    for n, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise AlertPayloadError(f"alerts[{n}] must be an object")
        labels = _strings(alert.get("labels"), f"alerts[{n}].labels")
        status = alert.get("status")
        if status not in AlertStatus.values:
            raise AlertPayloadError(f"alerts[{n}].status must be firing or resolved")
        name = labels.get("alertname", "")
        if not name:
            raise AlertPayloadError(f"alerts[{n}] has no alertname label")
        parsed.append(
            IncomingAlert(
                source="alertmanager",
                fingerprint=str(alert.get("fingerprint") or _fingerprint(name, labels))[:128],
                status=status,
                name=name[:200],
                severity=labels.get("severity", "")[:20],
                labels=labels,
                annotations=_strings(alert.get("annotations"), f"alerts[{n}].annotations"),
                starts_at=_time(alert.get("startsAt")),
                ends_at=_time(alert.get("endsAt")),
            )
        )
    return parsed


def parse_generic(payload: Any) -> list[IncomingAlert]:
    """{"name", "status", "severity", "environment", "fingerprint", "labels", "annotations",
    "starts_at", "ends_at"}: anything that can POST JSON (Grafana, a cron job, a script)."""
    if not isinstance(payload, dict):
        raise AlertPayloadError("expected a JSON object")
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AlertPayloadError("name is required")
    status = payload.get("status", AlertStatus.FIRING)
    if status not in AlertStatus.values:
        raise AlertPayloadError("status must be firing or resolved")
    labels = dict(_strings(payload.get("labels"), "labels"))
    for key in ("severity", "environment"):
        if payload.get(key) is not None:
            if not isinstance(payload[key], str):
                raise AlertPayloadError(f"{key} must be a string")
            labels[key] = payload[key]
    fingerprint = payload.get("fingerprint") or _fingerprint(name, labels)
    if not isinstance(fingerprint, str):
        raise AlertPayloadError("fingerprint must be a string")
    return [
        IncomingAlert(
            source="generic",
            fingerprint=fingerprint[:128],
            status=status,
            name=name.strip()[:200],
            severity=labels.get("severity", "")[:20],
            labels=labels,
            annotations=_strings(payload.get("annotations"), "annotations"),
            starts_at=_time(payload.get("starts_at")),
            ends_at=_time(payload.get("ends_at")),
        )
    ]


def _serialise_per_fingerprint(system: AISystem, fingerprint: str) -> None:
    # Two deliveries of one alert arriving at once must not open two incidents.
    key = int.from_bytes(
        hashlib.sha256(f"{system.pk}:{fingerprint}".encode()).digest()[:8], "big", signed=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _environment(system: AISystem, labels: dict[str, str]) -> Environment | None:
    for label in ENVIRONMENT_LABELS:
        if labels.get(label):
            return Environment.objects.filter(system=system, slug=labels[label]).first()
    return None


@transaction.atomic
def ingest_alert(*, system: AISystem, alert: IncomingAlert) -> Alert:
    """Record the alert; join the open incident with its fingerprint or declare one."""
    _serialise_per_fingerprint(system, alert.fingerprint)
    environment = _environment(system, alert.labels)
    incident = (
        Incident.objects.select_for_update(no_key=True, of=("self",))
        .filter(system=system, fingerprint=alert.fingerprint)
        .exclude(stage=Stage.CLOSED)
        .order_by("-detected_at")
        .first()
    )
    severity = PAGING_SEVERITIES.get(alert.severity.lower())
    if incident is None and alert.status == AlertStatus.FIRING and severity is not None:
        category = alert.labels.get("category", "")
        incident = declare_incident(
            actor=None,
            system=system,
            environment=environment,
            title=alert.annotations.get("summary") or alert.name,
            severity=severity,
            category=category if category in Category.values else Category.PERFORMANCE,
            source=Source.ALERT,
            summary=alert.annotations.get("description", ""),
            fingerprint=alert.fingerprint,
            detected_at=alert.starts_at,
        )
    stored = Alert.objects.create(
        system=system,
        environment=environment,
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
        record(
            incident,
            actor=None,
            kind=EntryKind.ALERT,
            action=f"alert.{alert.status}",
            body=f"{alert.name} {alert.status}" + (f": {summary}" if summary else "."),
            data={
                "alert": stored.pk,
                "status": alert.status,
                "fingerprint": alert.fingerprint,
                "labels": alert.labels,
            },
        )
        if alert.status == AlertStatus.FIRING:
            triggers.evaluate(incident)  # the plan may call for a rollback now
    return stored

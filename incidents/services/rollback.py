"""ROLL BACK NOW from an incident: the releases' rollback, linked to the incident, with every
step on its timeline and the incident's state kept in the forensic record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.models import EntryKind, Incident, IncidentRollback, TimelineEntry
from incidents.services.lifecycle import _lock
from incidents.services.timeline import record
from releases.notifications import Link
from releases.services import rollbacks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from releases.models import RollbackRequest

FORENSIC_ENTRIES = 50  # the last timeline entries kept with the evidence


@transaction.atomic
def request_rollback(
    *,
    actor: User | None,
    incident: Incident,
    reason: str,
    idempotency_key: str | None = None,
    trigger: dict[str, Any] | None = None,
    propose: bool = False,
) -> tuple[RollbackRequest, bool]:
    """Roll the incident's environment back to the plan's target; (request, created).

    The one service behind the war room's button, the API and the plan's triggers. A second
    press while a rollback of the environment is active returns that rollback.
    """
    incident = _lock(incident)
    if incident.environment is None:
        raise ValidationError("The incident names no environment: there is nothing to roll back.")
    if not incident.is_open:
        raise ValidationError("The incident is closed.")

    def link(request: RollbackRequest) -> None:
        IncidentRollback.objects.create(incident=incident, request=request)

    return rollbacks.request_rollback(
        actor=actor,
        environment=incident.environment,
        reason=reason,
        idempotency_key=idempotency_key,
        trigger=trigger,
        propose=propose,
        attach=link,
    )


def record_rollback_step(request: RollbackRequest, event: str, message: str) -> None:
    """Listener of releases' rollbacks: each step on the timeline of the incident it serves."""
    link = IncidentRollback.objects.filter(request=request).select_related("incident").first()
    if link is None:
        return  # a rollback from the deployment page, or a drill
    # A person pressed or confirmed; the later steps are the worker's.
    actor = (request.confirmed_by or request.requested_by) if event == "requested" else None
    record(
        link.incident,
        actor=actor,
        kind=EntryKind.ROLLBACK,
        action=f"incident.rollback_{event}",
        body=message,
        data={"rollback": request.pk, "status": request.status, "event": event},
        actor_name="rollback plan" if event == "proposed" else "rollback worker",
    )


def incident_evidence(request: RollbackRequest) -> dict[str, Any]:
    """Collector for the forensic record: the incident's alerts and its latest entries."""
    link = IncidentRollback.objects.filter(request=request).select_related("incident").first()
    if link is None:
        return {}
    incident = link.incident
    entries = TimelineEntry.objects.filter(incident=incident).order_by("-id")[:FORENSIC_ENTRIES]
    return {
        "incident": {"id": incident.pk, "title": incident.title, "severity": incident.severity},
        "alerts": [
            {
                "name": alert.name,
                "status": alert.status,
                "fingerprint": alert.fingerprint,
                "labels": alert.labels,
                "annotations": alert.annotations,
                "starts_at": alert.starts_at.isoformat() if alert.starts_at else None,
                "received_at": alert.received_at.isoformat(),
            }
            for alert in incident.alerts.order_by("-received_at")[:FORENSIC_ENTRIES]
        ],
        "timeline": [
            {
                "id": entry.pk,
                "kind": entry.kind,
                "at": entry.occurred_at.isoformat(),
                "actor": entry.actor_name,
                "body": entry.body,
            }
            for entry in reversed(list(entries))
        ],
    }


def war_room_link(request: RollbackRequest) -> Link | None:
    """For rollback notices: the war room of the incident the rollback serves."""
    link = IncidentRollback.objects.filter(request=request).select_related("incident").first()
    if link is None:
        return None
    return Link("Open the war room", link.incident.get_absolute_url())

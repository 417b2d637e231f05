"""ROLL BACK NOW from an incident: the releases' rollback, linked to the incident, with every
step on its timeline and the incident's state kept in the forensic record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.models import Alert, EntryKind, Incident, IncidentRollback, TimelineEntry
from incidents.services.lifecycle import _lock, reach_rollback_stage
from incidents.services.timeline import record
from releases.models import RollbackRequest
from releases.notifications import Link
from releases.services import rollbacks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

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


def _incident_of(request: RollbackRequest) -> Incident | None:
    """The incident a rollback serves; None for one from the deployment page, or a drill.

    Read once per request object: the link made by the press is cached on it already, and
    the worker's steps ask several times.
    """
    related = RollbackRequest.incident_link.related  # type: ignore[attr-defined]
    link: IncidentRollback | None
    if related.is_cached(request):
        link = related.get_cached_value(request)  # type: ignore[assignment]
    else:
        links = IncidentRollback.objects.filter(request=request)
        link = links.select_related("incident__system").first()
        related.set_cached_value(request, link)
    return link.incident if link is not None else None


def record_rollback_step(request: RollbackRequest, event: str, message: str) -> None:
    """Listener of releases' rollbacks: each step on the timeline of the incident it serves."""
    incident = _incident_of(request)
    if incident is None:
        return
    # A person pressed or confirmed; the later steps are the worker's.
    actor = (request.confirmed_by or request.requested_by) if event == "requested" else None
    record(
        incident,
        actor=actor,
        kind=EntryKind.ROLLBACK,
        action=f"incident.rollback_{event}",
        body=message,
        data={"rollback": request.pk, "status": request.status, "event": event},
        actor_name="rollback plan" if event == "proposed" else "rollback worker",
    )
    if event == "succeeded" and not request.is_drill:
        reach_rollback_stage(incident, version=request.to_release.version)


def incident_evidence(request: RollbackRequest) -> dict[str, Any]:
    """Collector for the forensic record: the incident's alerts and its latest entries.
    Read as plain rows, the incident too (half the cost of loading it with its system): this
    runs between the claim and the backend call."""
    incident = (
        IncidentRollback.objects.filter(request=request)
        .values("incident_id", "incident__title", "incident__severity")
        .first()
    )
    if incident is None:
        return {}
    incident_id = incident["incident_id"]
    alerts = (
        Alert.objects.filter(incident_id=incident_id)
        .order_by("-received_at")
        .values(
            "name", "status", "fingerprint", "labels", "annotations", "starts_at", "received_at"
        )[:FORENSIC_ENTRIES]
    )
    entries = (
        TimelineEntry.objects.filter(incident_id=incident_id)
        .order_by("-id")
        .values("id", "kind", "occurred_at", "actor_name", "body")[:FORENSIC_ENTRIES]
    )
    return {
        "incident": {
            "id": incident_id,
            "title": incident["incident__title"],
            "severity": incident["incident__severity"],
        },
        "alerts": [
            {
                **alert,
                "starts_at": alert["starts_at"].isoformat() if alert["starts_at"] else None,
                "received_at": alert["received_at"].isoformat(),
            }
            for alert in alerts
        ],
        "timeline": [
            {
                "id": entry["id"],
                "kind": entry["kind"],
                "at": entry["occurred_at"].isoformat(),
                "actor": entry["actor_name"],
                "body": entry["body"],
            }
            for entry in reversed(list(entries))
        ],
    }


def incident_cited(request: RollbackRequest) -> dict[str, Any]:
    """For approvals citing a rollback: the incident it served."""
    incident = _incident_of(request)
    if incident is None:
        return {}
    return {"incident": incident.pk, "incident_title": incident.title}


def war_room_link(request: RollbackRequest) -> Link | None:
    """For rollback notices: the war room of the incident the rollback serves."""
    incident = _incident_of(request)
    if incident is None:
        return None
    return Link("Open the war room", incident.get_absolute_url())

"""ROLL BACK NOW from an incident: the releases' rollback, linked to the incident, with every
step on its timeline and the incident's state kept in the forensic record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection

from governance import rows
from incidents import paging
from incidents.models import (
    Category,
    EntryKind,
    Incident,
    IncidentRollback,
    Severity,
    Source,
    Stage,
)
from incidents.services.lifecycle import lock_incident, reach_rollback_stage
from incidents.services.timeline import record
from incidents.slack import messages as slack_messages
from releases import rollbacks
from releases.models import Environment, RollbackRequest
from releases.notifications import Link
from releases.rollback_hooks import Served

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FORENSIC_ENTRIES = 50  # the last timeline entries kept with the evidence
# The rollback's steps that change what the incident's PagerDuty page says.
PAGED_EVENTS = frozenset({"proposed", "requested", "succeeded", "failed", "dismissed"})


def roll_back_incident(
    *,
    actor: User | None,
    incident: Incident,
    reason: str,
    idempotency_key: str | None = None,
    trigger: dict[str, Any] | None = None,
    propose: bool = False,
    further: bool = False,
    expected_from: str | None = None,
    expected_target: str | None = None,
) -> tuple[RollbackRequest, bool]:
    """Roll the incident's environment back to the plan's target; (request, created).

    The one service behind the war room's button, the API and the plan's triggers. A second
    press while a rollback of the environment is active returns that rollback. Past a
    release a verified rollback put back only with `further`; a press whose `expected_*`
    releases no longer hold is refused (see `releases.rollbacks.request_rollback`).
    """
    # Refusals first, then the press's writes in a block of their own: no savepoint needed
    # inside a caller's transaction (the alert intake's, whose trigger this may be).
    with rows.joined_transaction():
        incident = lock_incident(incident)
        if incident.environment is None:
            raise ValidationError(
                "The incident names no environment: there is nothing to roll back."
            )
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
            further=further,
            expected_from=expected_from,
            expected_target=expected_target,
            attach=link,
        )


def host_plan_rollback(
    environment: Environment, title: str, summary: str
) -> Callable[[RollbackRequest], None]:
    """Where a rollback the plan asked for without an alert (a PromQL trigger, a failed stage
    analysis) is watched: the environment's open incident, else one declared for it (as
    monitoring, SEV2), so that the war room shows it and a proposal is confirmed there. Runs
    when the press has written a new request, in its transaction."""

    def attach(request: RollbackRequest) -> None:
        from incidents.services.lifecycle import declare_incident

        incident = (
            Incident.objects.filter(environment=environment)
            .exclude(stage__in=[Stage.REVIEW, Stage.CLOSED])
            .order_by("-detected_at", "-id")
            .first()
        )
        if incident is None:
            incident = declare_incident(
                actor=None, system=environment.system, environment=environment, title=title,
                severity=Severity.SEV2, category=Category.PERFORMANCE, source=Source.ALERT,
                summary=summary,
            )  # fmt: skip
        IncidentRollback.objects.create(incident=incident, request=request)

    return attach


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
    if event in PAGED_EVENTS:
        paging.page_soon(incident)  # the page carries the proposal, then how it went
    slack_messages.post_soon(incident)  # every step, running too: the message moves with it


# The incident's evidence as PostgreSQL assembles it: one statement instead of three ORM
# reads and their Python (0.3 ms instead of 2 ms, measured in one process). Newest alerts
# first; the last entries in the order they happened.
_EVIDENCE_SQL = """
SELECT json_build_object(
    'incident', json_build_object('id', i.id, 'title', i.title, 'severity', i.severity),
    'alerts', COALESCE((
        SELECT json_agg(json_build_object(
            'name', a.name, 'status', a.status, 'fingerprint', a.fingerprint, 'labels', a.labels,
            'annotations', a.annotations, 'starts_at', a.starts_at, 'received_at', a.received_at
        ) ORDER BY a.received_at DESC, a.id DESC) FROM (
            SELECT * FROM incidents_alert WHERE incident_id = i.id
            ORDER BY received_at DESC, id DESC LIMIT %(entries)s
        ) a
    ), '[]'),
    'timeline', COALESCE((
        SELECT json_agg(json_build_object(
            'id', t.id, 'kind', t.kind, 'at', t.occurred_at, 'actor', t.actor_name, 'body', t.body
        ) ORDER BY t.id) FROM (
            SELECT * FROM incidents_timelineentry WHERE incident_id = i.id
            ORDER BY id DESC LIMIT %(entries)s
        ) t
    ), '[]')
)::text
FROM incidents_incidentrollback link JOIN incidents_incident i ON i.id = link.incident_id
WHERE link.request_id = %(request)s
"""


def incident_evidence(request: RollbackRequest) -> dict[str, Any]:
    """Collector for the forensic record: the incident, its latest alerts and timeline
    entries (timestamps in ISO 8601, UTC). It runs between the claim and the backend call."""
    with connection.cursor() as cursor:
        cursor.execute(_EVIDENCE_SQL, {"request": request.pk, "entries": FORENSIC_ENTRIES})
        row = cursor.fetchone()
    if row is None:
        request._served_incident = None  # type: ignore[attr-defined]
        return {}
    evidence: dict[str, Any] = json.loads(row[0])
    # What the backend call names next (incident_served), from this read: no second one
    # between the claim and the call.
    incident = Incident(pk=evidence["incident"]["id"], title=evidence["incident"]["title"])
    request._served_incident = _served(incident)  # type: ignore[attr-defined]
    return evidence


def incident_cited(request: RollbackRequest) -> dict[str, Any]:
    """For approvals citing a rollback: the incident it served."""
    incident = _incident_of(request)
    if incident is None:
        return {}
    return {"incident": incident.pk, "incident_title": incident.title}


def incident_served(request: RollbackRequest) -> Served | None:
    """For the deployment backends: the incident a rollback serves, to record beside it
    (read with the forensic evidence when that ran first)."""
    if hasattr(request, "_served_incident"):
        served: Served | None = request._served_incident
        return served
    incident = _incident_of(request)
    return None if incident is None else _served(incident)


def _served(incident: Incident) -> Served:
    return Served(f"INC-{incident.pk}", incident.title, incident.get_absolute_url())


def war_room_link(request: RollbackRequest) -> Link | None:
    """For rollback notices: the war room of the incident the rollback serves."""
    incident = _incident_of(request)
    if incident is None:
        return None
    return Link("Open the war room", incident.get_absolute_url())

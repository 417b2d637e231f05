"""Writing to an incident's timeline and the audit trail together, in one statement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from governance import audit, rows
from governance.limits import PROSE, shorten
from incidents.models import Incident, TimelineEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def record(
    incident: Incident,
    *,
    actor: User | None,
    kind: str,
    body: str,
    action: str,
    data: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_name: str = "monitoring",
) -> TimelineEntry:
    """One timeline entry and its audit event, in the caller's transaction. Without an
    actor, `actor_name` says which machine it was. A body composed from an alert's words is
    cut to fit the field (what people post is refused beyond its own cap before this)."""
    body = shorten(body, PROSE)
    entry = TimelineEntry(
        incident=incident,
        kind=kind,
        occurred_at=timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else actor_name,
        body=body,
        data=data or {},
    )
    event = audit.new_event(
        actor=actor,
        action=action,
        obj=incident,
        system=incident.system,
        before=before,
        after={**(after or {}), "body": body},
    )
    # One round trip for both (an alert that trips a rollback writes three such pairs
    # before the rollback is asked): the event names the entry by its new key.
    rows.insert_pair(
        entry, event, referring={"after": "%s || jsonb_build_object('timeline_entry', {first_pk})"}
    )
    if event.after is not None:  # as written
        event.after["timeline_entry"] = entry.pk
    return entry

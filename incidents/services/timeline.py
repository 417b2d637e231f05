"""Writing to an incident's timeline and the audit trail together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from governance import audit
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
    entry = TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        occurred_at=timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else actor_name,
        body=body,
        data=data or {},
    )
    audit.record_event(
        actor=actor,
        action=action,
        obj=incident,
        system=incident.system,
        before=before,
        after={**(after or {}), "timeline_entry": entry.pk, "body": body},
    )
    return entry

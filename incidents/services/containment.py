"""Containment actions and pinned timeline entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import audit
from governance.permissions import require
from governance.roles import Action
from incidents.models import (
    ContainmentAction,
    ContainmentKind,
    ContainmentStatus,
    EntryKind,
    Incident,
    Pin,
    TimelineEntry,
)
from incidents.response_times import humanise_minutes
from incidents.services.lifecycle import lock_incident, mark_contained
from incidents.services.timeline import record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NEXT_STATUS = {
    ContainmentStatus.REQUESTED: (ContainmentStatus.DONE,),
    ContainmentStatus.DONE: (ContainmentStatus.UNDONE,),
    ContainmentStatus.UNDONE: (),
}


@transaction.atomic
def request_containment(
    *, actor: User, incident: Incident, kind: str, target: str
) -> ContainmentAction:
    """Ask for a containment action (responders and leads)."""
    incident = lock_incident(incident)
    require(actor, Action.RESPOND_INCIDENT, incident.system)
    if kind not in ContainmentKind.values:
        raise ValidationError({"kind": f"Unknown containment action {kind!r}."})
    if not target.strip():
        raise ValidationError({"target": "Name the feature, rule, endpoint or fallback model."})
    if not incident.is_open:
        raise ValidationError("The incident is closed.")
    action = ContainmentAction.objects.create(
        incident=incident, kind=kind, target=target.strip(), requested_by=actor
    )
    record(
        incident,
        actor=actor,
        kind=EntryKind.CONTAINMENT,
        action="incident.containment_requested",
        body=f"{action.get_kind_display()}: {action.target} (requested).",
        data={"containment": action.pk, "status": action.status},
    )
    return action


@transaction.atomic
def set_containment_status(
    *, actor: User, action: ContainmentAction, status: str
) -> ContainmentAction:
    """Mark a containment action done, or undo it once it is no longer needed.

    The first action done contains the incident, unless something contained it before
    (`lifecycle.mark_contained`): its time is the incident's `contained_at`, stamped in the
    same transaction and said in the same timeline entry. An undo changes no stamp."""
    incident = lock_incident(action.incident)
    require(actor, Action.RESPOND_INCIDENT, incident.system)
    action = ContainmentAction.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=action.pk
    )
    if status not in NEXT_STATUS[ContainmentStatus(action.status)]:
        raise ValidationError(
            {"status": f"A {action.get_status_display().lower()} action cannot become {status}."}
        )
    before = action.status
    action.status = status
    now = timezone.now()
    contained = False
    if status == ContainmentStatus.DONE:
        action.done_by, action.done_at = actor, now
        contained = incident.is_open and mark_contained(incident, now)
    else:
        action.undone_at = now
    action.save()
    body = f"{action.get_kind_display()}: {action.target} ({status})."
    after: dict[str, Any] = {"status": status}
    if contained:
        incident.save(update_fields=["contained_at", "skipped_stages"])
        minutes = (now - incident.detected_at).total_seconds() / 60
        body += f" Contained, {humanise_minutes(max(minutes, 0))} after detection."
        after["contained_at"] = now.isoformat()
    record(
        incident,
        actor=actor,
        kind=EntryKind.CONTAINMENT,
        action=f"incident.containment_{status}",
        body=body,
        data={"containment": action.pk, "status": status, "contained": contained},
        before={"status": before},
        after=after,
    )
    return action


@transaction.atomic
def pin_entry(*, actor: User, entry: TimelineEntry) -> Pin:
    require(actor, Action.RESPOND_INCIDENT, entry.incident.system)
    try:
        with transaction.atomic():
            pin = Pin.objects.create(entry=entry, pinned_by=actor)
    except IntegrityError:
        raise ValidationError("That entry is already pinned.") from None
    # The entry itself stays untouched (append-only); the pin is a change of its own.
    audit.record_event(
        actor=actor,
        action="incident.entry_pinned",
        obj=entry.incident,
        system=entry.incident.system,
        after={"timeline_entry": entry.pk},
    )
    return pin

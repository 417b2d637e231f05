"""The blameless post-mortem, its action items, and closing the incident by publishing it."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.audit import snapshot
from governance.people import display_name
from governance.permissions import can, require
from governance.roles import Action
from incidents.models import (
    ActionItem,
    ActionItemStatus,
    EntryKind,
    Incident,
    PostMortem,
    Stage,
)
from incidents.services.lifecycle import lock_incident
from incidents.services.timeline import record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

POSTMORTEM_FIELDS = (
    "summary",
    "impact",
    "root_cause_code",
    "root_cause_model",
    "root_cause_data",
    "contributing_factors",
    "detection_gaps",
    "went_well",
    "went_badly",
)
REQUIRED_TO_PUBLISH = ("summary", "impact", "detection_gaps")


@transaction.atomic
def save_postmortem(*, actor: User, incident: Incident, **fields: str) -> PostMortem:
    incident = lock_incident(incident)
    require(actor, Action.RESPOND_INCIDENT, incident.system)
    unknown = set(fields) - set(POSTMORTEM_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown post-mortem fields: {', '.join(sorted(unknown))}.")
    postmortem, _ = PostMortem.objects.select_for_update(no_key=True, of=("self",)).get_or_create(
        incident=incident
    )
    if postmortem.published_at is not None:
        raise ValidationError("The post-mortem is published; add a note to the timeline instead.")
    before = snapshot(postmortem, POSTMORTEM_FIELDS)
    for name, value in fields.items():
        setattr(postmortem, name, value.strip())
    postmortem.save()
    after = snapshot(postmortem, POSTMORTEM_FIELDS)
    if after != before:
        audit.record_event(
            actor=actor,
            action="postmortem.saved",
            obj=postmortem,
            system=incident.system,
            before=before,
            after=after,
        )
    return postmortem


@transaction.atomic
def add_action_item(
    *,
    actor: User,
    incident: Incident,
    title: str,
    owner: User | None = None,
    due_date: date | None = None,
) -> ActionItem:
    incident = lock_incident(incident)
    require(actor, Action.RESPOND_INCIDENT, incident.system)
    if not title.strip():
        raise ValidationError({"title": "Say what is to be done."})
    if owner is not None and not can(owner, Action.VIEW, incident.system):
        raise ValidationError({"owner": "The owner must hold a role on this system."})
    item = ActionItem.objects.create(
        incident=incident, title=title.strip(), owner=owner, due_date=due_date
    )
    record(
        incident,
        actor=actor,
        kind=EntryKind.POSTMORTEM,
        action="incident.action_item_added",
        body=f"Action item: {item.title}" + (f" (owner {display_name(owner)})" if owner else ""),
        data={"action_item": item.pk},
    )
    return item


@transaction.atomic
def update_action_item(
    *, actor: User, item: ActionItem, owner: User | None, due_date: date | None, status: str
) -> ActionItem:
    incident = lock_incident(item.incident)
    require(actor, Action.RESPOND_INCIDENT, incident.system)
    if status not in ActionItemStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if owner is not None and not can(owner, Action.VIEW, incident.system):
        raise ValidationError({"owner": "The owner must hold a role on this system."})
    item = ActionItem.objects.select_for_update(no_key=True, of=("self",)).get(pk=item.pk)
    fields = ("title", "owner", "due_date", "status")
    before = snapshot(item, fields)
    item.owner, item.due_date, item.status = owner, due_date, status
    item.save()
    audit.record_event(
        actor=actor,
        action="action_item.updated",
        obj=item,
        system=incident.system,
        before=before,
        after=snapshot(item, fields),
    )
    return item


def publication_problems(incident: Incident) -> list[str]:
    problems = []
    postmortem = PostMortem.objects.filter(incident=incident).first()
    if postmortem is None:
        return ["Write the post-mortem first."]
    labels = {f.name: str(f.verbose_name) for f in PostMortem._meta.fields}
    for name in REQUIRED_TO_PUBLISH:
        if not getattr(postmortem, name).strip():
            problems.append(f"The post-mortem needs its {labels[name]}.")
    if not (
        postmortem.root_cause_code or postmortem.root_cause_model or postmortem.root_cause_data
    ):
        problems.append("Name the root cause in code, model or data.")
    ownerless = incident.action_items.filter(owner__isnull=True).count()
    if ownerless:
        problems.append(f"{ownerless} action item{'s have' if ownerless > 1 else ' has'} no owner.")
    if incident.stage != Stage.REVIEW:
        problems.append("Move the incident to the post-incident review first.")
    return problems


@transaction.atomic
def publish_postmortem(*, actor: User, incident: Incident) -> Incident:
    """Publish the post-mortem and close the incident — only when every action item has an owner."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    problems = publication_problems(incident)
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    PostMortem.objects.filter(incident=incident).update(published_at=now, published_by=actor)
    incident.stage, incident.closed_at = Stage.CLOSED, now
    incident.reviewed_at = incident.reviewed_at or now
    incident.save(update_fields=["stage", "closed_at", "reviewed_at"])
    record(
        incident,
        actor=actor,
        kind=EntryKind.POSTMORTEM,
        action="incident.closed",
        body="Post-mortem published; incident closed.",
        before={"stage": Stage.REVIEW},
        after={"stage": Stage.CLOSED},
    )
    return incident

"""Declaring an incident and moving it through its lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from governance.limits import COMMENT, NAME, shorten
from governance.people import display_name
from governance.permissions import can, require
from governance.roles import Action
from incidents import paging
from incidents.models import (
    Category,
    EntryKind,
    Incident,
    IncidentRole,
    IncidentRoleKind,
    Severity,
    Source,
    Stage,
)
from incidents.queries import incident_row
from incidents.services.timeline import record
from incidents.slack import messages as slack_messages
from releases.content import release_content
from releases.models import Environment, RollbackPlan
from releases.queries import live_release_at
from releases.services.plans import plan_state

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem
    from incidents.models import AlertToken

ORDER = list(Stage.values)
# Leaving a stage (forward) stamps when that part of the response was done.
DONE_WHEN_LEAVING = {
    Stage.CONTAINMENT: "contained_at",
    Stage.ROLLBACK: "rolled_back_at",
    Stage.RECOVERY: "recovered_at",
    Stage.REVIEW: "reviewed_at",
}
REOPENABLE_FROM = (Stage.REVIEW, Stage.CLOSED)


def mark_contained(incident: Incident, at: datetime) -> bool:
    """The one rule of when an incident was contained (`contained_at`), which the war room's
    lifecycle, the post-mortem, the dashboard's time to contain and the evidence all read:
    the first of

    - its first containment action marked done (`set_containment_status`);
    - leaving the containment stage forward (a lead says containment is done);
    - its rollback done: a verified rollback for it, or leaving the rollback stage forward
      (the release that did harm is gone: nothing is left to contain).

    Set once, never moved: undoing an action later, or a second one, changes nothing. A
    containment stage passed over before is then no longer skipped: it was done, just not
    as a stage. The caller holds the incident's lock, saves it and says so on the timeline.
    True when this call set it."""
    if incident.contained_at is not None:
        return False
    incident.contained_at = at
    incident.skipped_stages = [s for s in incident.skipped_stages if s != Stage.CONTAINMENT]
    return True


def lock_incident(incident: Incident) -> Incident:
    """The incident read afresh and locked for this transaction, with its system and
    environment: one writer at a time per incident (stage moves and role changes read, then
    write)."""
    locked = incident_row(incident.pk, lock=True)
    if locked is None:
        raise Incident.DoesNotExist(f"Incident {incident.pk} does not exist.")
    return locked


def _check_choice(value: str, choices: type, field: str) -> None:
    if value not in choices.values:  # type: ignore[attr-defined]
        raise ValidationError({field: f"Unknown {field.replace('_', ' ')} {value!r}."})


def declare_incident(
    *,
    actor: User | None,
    system: AISystem,
    title: str,
    severity: str,
    category: str,
    source: str = Source.USER_REPORT,
    environment: Environment | None = None,
    summary: str = "",
    fingerprint: str = "",
    detected_at: datetime | None = None,
    group_key: str = "",
    alert_token: AlertToken | None = None,
    is_storm: bool = False,
) -> Incident:
    """Open an incident, capturing the release live then and the rollback plan in force.

    `actor` None means monitoring declared it (an alert: its `fingerprint`, `group_key`,
    `alert_token`, and whether it is the token's storm incident); people need the
    on-call-lead role.
    """
    if actor is not None:
        require(actor, Action.LEAD_INCIDENT, system)
    _check_choice(severity, Severity, "severity")
    _check_choice(category, Category, "category")
    _check_choice(source, Source, "source")
    if not title.strip():
        raise ValidationError({"title": "Say in a few words what is wrong."})
    if actor is None:  # monitoring's words are cut to fit, never refused: the alert must page
        title, summary = shorten(title.strip(), NAME), shorten(summary.strip(), COMMENT)
    elif len(title.strip()) > NAME or len(summary.strip()) > COMMENT:
        raise ValidationError(
            {"summary": f"Keep the title under {NAME} and the summary under {COMMENT} characters."}
        )
    if environment is not None and environment.system_id != system.pk:
        raise ValidationError({"environment": "Choose an environment of this system."})
    detected_at = detected_at or timezone.now()
    # Every refusal is above, before any write: so no savepoint is needed (two round trips
    # on the alert path, which declares inside its own transaction).
    with transaction.atomic(savepoint=False):
        live = live_release_at(environment, detected_at) if environment is not None else None
        plan = (
            RollbackPlan.objects.filter(release=live)
            .select_related("environment", "target_release")  # what its snapshot says
            .prefetch_related("owners", "triggers")
            .first()
            if live is not None
            else None
        )
        incident = Incident.objects.create(
            system=system,
            environment=environment,
            title=title.strip(),
            summary=summary.strip(),
            severity=severity,
            category=category,
            source=source,
            declared_by=actor,
            detected_at=detected_at,
            fingerprint=fingerprint,
            group_key=group_key,
            alert_token=alert_token,
            is_storm=is_storm,
            live_release=live,
            release_snapshot=(
                {"id": live.pk, "version": live.version, **release_content(live)} if live else {}
            ),
            rollback_plan=plan,
            plan_snapshot=plan_state(plan) if plan else {},
        )
        where = f" in {environment.name}" if environment else ""
        running = f"; {live.version} was live" if live else ""
        record(
            incident,
            actor=actor,
            kind=EntryKind.DECLARED,
            action="incident.declared",
            body=f"Declared {incident.get_severity_display()}{where}{running}.",
            after={
                "severity": severity,
                "category": category,
                "source": source,
                "live_release": live.version if live else None,
            },
        )
        if actor is not None:
            _assign(incident, actor=actor, role=IncidentRoleKind.COMMANDER, user=actor)
        paging.page_soon(incident)
        slack_messages.post_soon(incident)
    return incident


def _assign(incident: Incident, *, actor: User, role: str, user: User) -> IncidentRole:
    if not can(user, Action.VIEW, incident.system) or not user.is_active:
        raise ValidationError({"user": "They hold no role on this system."})
    if role != IncidentRoleKind.RESPONDER:
        current = incident.roles.filter(role=role, ended_at__isnull=True).first()
        if current is not None and current.user_id == user.pk:
            raise ValidationError({"user": "They already hold this role."})
        if current is not None:
            current.ended_at = timezone.now()
            current.save(update_fields=["ended_at"])
    elif incident.roles.filter(role=role, user=user, ended_at__isnull=True).exists():
        raise ValidationError({"user": "They are already a responder."})
    assignment = IncidentRole.objects.create(
        incident=incident, role=role, user=user, assigned_by=actor
    )
    handed = (
        " (hand-over)"
        if role != IncidentRoleKind.RESPONDER and incident.roles.filter(role=role).count() > 1
        else ""
    )
    if role == IncidentRoleKind.COMMANDER and incident.acknowledged_at is None:
        incident.acknowledged_at = timezone.now()
        incident.save(update_fields=["acknowledged_at"])
    record(
        incident,
        actor=actor,
        kind=EntryKind.ROLE,
        action="incident.role_assigned",
        body=f"{display_name(user)} is {IncidentRoleKind(role).in_a_sentence}{handed}.",
        data={"role": role, "user": user.get_username()},
        after={"role": role, "user": user.get_username()},
    )
    return assignment


@transaction.atomic
def assign_role(*, actor: User, incident: Incident, role: str, user: User) -> IncidentRole:
    """Give someone a role in the incident; a second commander is a hand-over."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    _check_choice(role, IncidentRoleKind, "role")
    return _assign(incident, actor=actor, role=role, user=user)


@transaction.atomic
def release_role(*, actor: User, assignment: IncidentRole) -> None:
    incident = lock_incident(assignment.incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    assignment = IncidentRole.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=assignment.pk
    )
    if assignment.ended_at is not None:
        raise ValidationError("That role was already handed over.")
    if assignment.role == IncidentRoleKind.COMMANDER and incident.is_open:
        raise ValidationError("An open incident keeps a commander: hand over instead.")
    assignment.ended_at = timezone.now()
    assignment.save(update_fields=["ended_at"])
    record(
        incident,
        actor=actor,
        kind=EntryKind.ROLE,
        action="incident.role_ended",
        body=(
            f"{display_name(assignment.user)} stepped down as "
            f"{IncidentRoleKind(assignment.role).in_a_sentence}."
        ),
        data={"role": assignment.role, "user": assignment.user.get_username()},
    )


@transaction.atomic
def move_stage(*, actor: User, incident: Incident, stage: str, reason: str = "") -> Incident:
    """Move forward through the lifecycle (stages passed over are recorded as skipped), or
    reopen a reviewed or closed incident. Closing happens by publishing the post-mortem."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    _check_choice(stage, Stage, "stage")
    current, target = ORDER.index(incident.stage), ORDER.index(stage)
    if stage == Stage.CLOSED:
        raise ValidationError({"stage": "An incident closes when its post-mortem is published."})
    if target == current:
        raise ValidationError(
            {"stage": f"The incident is already in {incident.get_stage_display()}."}
        )
    reopening = target < current
    if reopening and incident.stage not in REOPENABLE_FROM:
        raise ValidationError({"stage": "The lifecycle only moves forward until the review."})
    if reopening and not reason.strip():
        raise ValidationError({"reason": "Say why the incident is reopened."})

    return _enter(incident, stage, actor=actor, reason=reason)


@transaction.atomic
def reach_rollback_stage(incident: Incident, *, version: str) -> None:
    """A rollback for the incident was verified: that part of the response is done then, and
    an incident still in detection or containment is in the rollback stage now (the stages
    passed over recorded as skipped, as a lead's move would be). One further on is left where
    the team put it."""
    incident = lock_incident(incident)
    current, rollback = ORDER.index(incident.stage), ORDER.index(Stage.ROLLBACK)
    if not incident.is_open or current > rollback:
        return
    incident.rolled_back_at = incident.rolled_back_at or timezone.now()
    if current < rollback:
        # _enter counts the verified rollback as the containment, if nothing contained it.
        _enter(
            incident, Stage.ROLLBACK, actor=None, reason=f"{version} is live again.",
            machine="rollback worker",
        )  # fmt: skip
        return
    contained = mark_contained(incident, incident.rolled_back_at)
    incident.save(update_fields=["rolled_back_at", "contained_at", "skipped_stages"])
    if contained:  # in the rollback stage already: no stage entry says it
        record(
            incident,
            actor=None,
            kind=EntryKind.CONTAINMENT,
            action="incident.contained",
            body=f"Contained by the rollback: {version} is live again.",
            data={"contained_at": _iso(incident.contained_at), "by": "rollback"},
            after={"contained_at": _iso(incident.contained_at)},
            actor_name="rollback worker",
        )


def _enter(
    incident: Incident, stage: str, *, actor: User | None, reason: str, machine: str = ""
) -> Incident:
    """Put the locked `incident` in `stage` (checked by the caller) and say so on the timeline.
    Without an actor, `machine` did it, which acknowledges nothing."""
    current, target = ORDER.index(incident.stage), ORDER.index(stage)
    reopening = target < current
    before = {"stage": incident.stage}
    was_contained = incident.contained_at
    now = timezone.now()
    passed_over = [] if reopening else ORDER[current + 1 : target]
    contained_by_rollback = False
    if not reopening:
        # A rollback done (verified, or its stage left before) contained it, if nothing did.
        if incident.rolled_back_at is not None:
            contained_by_rollback = mark_contained(incident, incident.rolled_back_at)
        for passed in ORDER[current:target]:
            stamp = DONE_WHEN_LEAVING.get(Stage(passed))
            if not stamp or passed in passed_over or getattr(incident, stamp) is not None:
                continue
            if stamp == "contained_at":
                mark_contained(incident, now)
            else:
                setattr(incident, stamp, now)
        if incident.rolled_back_at is not None and not contained_by_rollback:
            contained_by_rollback = mark_contained(incident, incident.rolled_back_at)
    # A stage passed over whose part is done (containment, by an action) is not skipped.
    skipped = [name for name in passed_over if not _done(incident, name)]
    skipped_ever = set(incident.skipped_stages) | set(skipped)
    incident.skipped_stages = [name for name in ORDER if name in skipped_ever]
    if reopening:
        incident.closed_at = None
    if actor is not None:
        incident.acknowledged_at = incident.acknowledged_at or now
    incident.stage = stage
    incident.save()
    verb = "Reopened in" if reopening else "Moved to"
    body = f"{verb} {Stage(stage).label}."
    if skipped:
        body += f" Skipped: {', '.join(Stage(s).label for s in skipped)}."
    if reason.strip():
        body += f" {reason.strip()}"
    if contained_by_rollback:
        body += " Contained by the rollback."
    after: dict[str, Any] = {"stage": stage, "skipped": skipped}
    if incident.contained_at != was_contained:
        after["contained_at"] = _iso(incident.contained_at)
    record(
        incident,
        actor=actor,
        kind=EntryKind.STAGE,
        action="incident.stage_changed",
        body=body,
        data={"from": before["stage"], "to": stage, "skipped": skipped},
        before=before,
        after=after,
        actor_name=machine,
    )
    paging.page_soon(incident)  # recovered or closed: resolved; reopened: paged again
    slack_messages.post_soon(incident)
    return incident


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _done(incident: Incident, stage: str) -> bool:
    """Is this stage's part of the response done already (its stamp set)?"""
    stamp = DONE_WHEN_LEAVING.get(Stage(stage))
    return stamp is not None and getattr(incident, stamp) is not None


@transaction.atomic
def change_severity(*, actor: User, incident: Incident, severity: str, reason: str) -> Incident:
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    _check_choice(severity, Severity, "severity")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    if severity == incident.severity:
        raise ValidationError({"severity": "That is the current severity."})
    before = incident.severity
    incident.severity = severity
    incident.save(update_fields=["severity"])
    record(
        incident,
        actor=actor,
        kind=EntryKind.SEVERITY,
        action="incident.severity_changed",
        body=f"Severity {Severity(before).label} → {Severity(severity).label}: {reason.strip()}",
        data={"from": before, "to": severity},
        before={"severity": before},
        after={"severity": severity},
    )
    paging.page_soon(incident)
    slack_messages.post_soon(incident)
    return incident


def may_post_status(user: User, incident: Incident) -> bool:
    """Status updates come from the commander and the scribe (or any on-call lead)."""
    if can(user, Action.LEAD_INCIDENT, incident.system):
        return True
    return incident.roles.filter(
        user=user,
        ended_at__isnull=True,
        role__in=[IncidentRoleKind.COMMANDER, IncidentRoleKind.SCRIBE],
    ).exists()


@transaction.atomic
def post_update(*, actor: User, incident: Incident, body: str, kind: str = EntryKind.NOTE):
    """A note (responders) or a status update (commander, scribe) on the timeline."""
    incident = lock_incident(incident)
    if kind == EntryKind.STATUS_UPDATE:
        if not may_post_status(actor, incident):
            raise PermissionDenied("Status updates come from the commander or the scribe.")
    elif kind == EntryKind.NOTE:
        require(actor, Action.RESPOND_INCIDENT, incident.system)
    else:
        raise ValidationError({"kind": "Post a note or a status update."})
    if not body.strip():
        raise ValidationError({"body": "Write something."})
    if len(body) > 10_000:
        raise ValidationError({"body": "Keep it under 10,000 characters."})
    return record(incident, actor=actor, kind=kind, action=f"incident.{kind}", body=body.strip())

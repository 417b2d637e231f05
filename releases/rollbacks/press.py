"""Asking for a rollback: request (ROLL BACK NOW, or a trigger's proposal), confirm and
dismiss. The services a page, the API or a task calls; each records the request, its audit
event and its timeline step, and hands a request to run to the broker after commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit, rows
from governance.people import display_name
from governance.permissions import require
from governance.roles import Action
from releases import rollback_hooks
from releases.models import Environment, Release, RollbackRequest, RollbackStatus
from releases.rollbacks import broker
from releases.rollbacks.records import locked_request, record_step, request_state
from releases.rollbacks.target import PressFacts, active_request, press_facts, rollback_just_done

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def request_rollback(
    *,
    actor: User | None,
    environment: Environment,
    reason: str,
    to_release: Release | None = None,
    idempotency_key: str | None = None,
    trigger: dict[str, Any] | None = None,
    propose: bool = False,
    drill: bool = False,
    further: bool = False,
    expected_from: str | None = None,
    expected_target: str | None = None,
    attach: Callable[[RollbackRequest], None] | None = None,
) -> tuple[RollbackRequest, bool]:
    """Record a rollback of `environment` and schedule it; return (request, created).

    `actor` None is a trigger of the rollback plan (its evidence in `trigger`); people need
    the request-rollback role (rollback owners, on-call leads). While a request of the
    environment is active, or moments after one succeeded, that one is returned and nothing
    new is recorded. `propose` records it for a rollback owner to confirm instead of running
    it. `attach` runs right after the request is written, in the same transaction (the
    incidents app links it).

    Once a verified rollback has put the live release back, a press goes past that release
    only with `further` (or a `to_release` named): pressed twice in a hurry, ROLL BACK NOW
    never rolls back past the known-good release, and neither does a trigger. `further`
    where no rollback put the live release back is refused too. `expected_from` and
    `expected_target` are the versions the presser was shown: a press whose releases no
    longer hold (the page was out of date) is refused and changes nothing.
    """
    system = environment.system
    if actor is not None:
        require(actor, Action.REQUEST_ROLLBACK, system)
    elif not trigger:
        raise ValidationError("An automatic rollback needs the trigger that asked for it.")
    if idempotency_key:
        if len(idempotency_key) > 64:
            raise ValidationError({"idempotency_key": "At most 64 characters."})
        earlier = RollbackRequest.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.environment_id != environment.pk:
                raise ValidationError({"idempotency_key": "That key belongs to another rollback."})
            return earlier, False
    facts = press_facts(environment, to_release)
    if facts.active_id is not None:
        active = RollbackRequest.objects.select_related("from_release", "to_release")
        return active.get(pk=facts.active_id), False
    if not reason.strip():
        raise ValidationError({"reason": "Say why: it goes to the timeline and the audit trail."})
    if drill and environment.is_production:
        raise ValidationError("Drills run against a non-production environment.")
    live_release = facts.live
    if live_release is None:
        raise ValidationError(
            f"Nothing is live in {environment.name}: there is nothing to roll back."
        )
    target: Release | None = None
    from_release: Release | None = live_release
    if facts.restores and not further and to_release in (None, live_release):
        # An ungoverned change: the backend reports another release than the record. What a
        # rollback puts back is the recorded (approved) release, replacing whatever is there;
        # no release is marked rolled back (from_release None): what replaced it was never
        # recorded live.
        if expected_from is not None and expected_from != live_release.version:
            raise _out_of_date(
                "expected_from", f"{live_release.version} is recorded now, not {expected_from}"
            )
        if expected_target is not None and expected_target != live_release.version:
            raise _out_of_date(
                "expected_target",
                f"this press would put {live_release.version} back, not {expected_target}",
            )
        target, from_release = live_release, None
    elif facts.live_via == "rollback" and not further:
        done = rollback_just_done(environment, live_release.pk)
        if done is not None:  # a late press of the same button: that rollback is the answer
            return done, False
    if target is None:  # not restoring: the press's usual rules
        target, from_release = _plain_target(
            facts, environment, live_release, to_release=to_release, further=further,
            expected_from=expected_from, expected_target=expected_target,
        )  # fmt: skip
    request = _record_request(
        actor=actor,
        environment=environment,
        from_release=from_release,
        to_release=target,
        replacing=from_release.version if from_release else facts.drift_observed or "nothing",
        reason=reason.strip(),
        idempotency_key=idempotency_key or uuid.uuid4().hex,
        trigger=trigger or {},
        propose=propose,
        drill=drill,
        attach=attach,
    )
    if request is not None:
        return request, True
    # A concurrent press recorded its request first: the unique indexes decided.
    existing = active_request(environment)
    if existing is None:  # the winner finished already, or its key was this one
        raise ValidationError(
            f"Another rollback of {environment.name} was recorded meanwhile; press again to "
            "see where it stands."
        )
    return existing, False


def _plain_target(
    facts: PressFacts,
    environment: Environment,
    live_release: Release,
    *,
    to_release: Release | None,
    further: bool,
    expected_from: str | None,
    expected_target: str | None,
) -> tuple[Release, Release]:
    """(target, from_release) of a press that restores nothing: the named release, the
    plan's target or the last known good; refused by raising."""
    if expected_from is not None and expected_from != live_release.version:
        raise _out_of_date(
            "expected_from", f"{live_release.version} is live now, not {expected_from}"
        )
    if further and facts.put_back_by is None:
        raise ValidationError(
            {
                "further": f"{live_release.version} is live in {environment.name}, but no "
                "rollback put it back: there is nothing to roll back further from. ROLL BACK "
                "NOW rolls it back."
            }
        )
    if facts.put_back_by is not None and not further and to_release is None:
        raise _put_back_already(facts, live_release)
    target = to_release or facts.target
    if target is None:
        raise ValidationError(
            f"No earlier release was live in {environment.name}; name the target in the plan."
        )
    if facts.named:  # by the caller or the plan: it must have been live here
        if target.system_id != environment.system_id:
            raise ValidationError({"to_release": "Choose a release of this system."})
        if target.pk == live_release.pk:
            raise ValidationError({"to_release": f"{target.version} is already live."})
        if not facts.target_was_live:
            raise ValidationError(
                {"to_release": f"{target.version} was never live in {environment.name}."}
            )
    if expected_target is not None and expected_target != target.version:
        raise _out_of_date(
            "expected_target", f"this press would put {target.version} live, not {expected_target}"
        )
    return target, live_release


def _out_of_date(field: str, what: str) -> ValidationError:
    return ValidationError(
        {field: f"The page was out of date: {what}. Nothing was done; look again, then press."}
    )


def _put_back_already(facts: PressFacts, live: Release) -> ValidationError:
    """A plain press after a verified rollback: ROLL BACK NOW has done its work."""
    # As the pages show it (TIME_ZONE is UTC, as they say).
    at = f"{timezone.localtime(facts.put_back_at):%H:%M} UTC" if facts.put_back_at else "earlier"
    done = f"{live.version} is live: the rollback at {at} put it back"
    if facts.put_back_from:
        done += f" in place of {facts.put_back_from}"
    if facts.target is None:
        return ValidationError({"further": f"{done}; no earlier release is left to roll back to."})
    return ValidationError(
        {
            "further": f"{done}. ROLL BACK NOW does not go past it: to put "
            f"{facts.target.version} live instead, roll back further."
        }
    )


# Everything above only reads, and refuses by raising; below, a press that lost the race
# writes nothing and returns None. So the writes need no savepoint (the two round trips a
# press would wait on): inside a caller's transaction they are simply part of it.
@transaction.atomic(savepoint=False)
def _record_request(
    *,
    actor: User | None,
    environment: Environment,
    from_release: Release | None,
    to_release: Release,
    replacing: str,
    reason: str,
    idempotency_key: str,
    trigger: dict[str, Any],
    propose: bool,
    drill: bool,
    attach: Callable[[RollbackRequest], None] | None,
) -> RollbackRequest | None:
    now = timezone.now()
    request = RollbackRequest(
        environment=environment,
        from_release=from_release,
        to_release=to_release,
        status=RollbackStatus.PROPOSED if propose else RollbackStatus.REQUESTED,
        reason=reason,
        idempotency_key=idempotency_key,
        requested_by=actor,
        trigger=trigger,
        is_drill=drill,
        requested_at=now,
        enqueued_at=None if propose else now,
    )
    # The partial unique index (one active request per environment) decides concurrent presses.
    if not rows.insert_unless_taken(request):
        return None
    if not propose:  # first after commit: the rollback goes out before any notice
        transaction.on_commit(lambda: broker.enqueue(request.pk))
    if attach is not None:
        attach(request)
    who = display_name(actor) if actor else "the rollback plan"
    verb = "proposed" if propose else "requested"
    audit.record_event(
        actor=actor,
        action=f"rollback.{verb}",
        obj=request,
        system=environment.system,
        after=request_state(request),
    )
    what = "Drill: roll" if drill else "Roll"
    rollback_hooks.notify(
        request,
        verb,
        f"{what} back {environment.name} from {replacing} to {to_release.version} "
        f"{verb} by {who}: {request.reason}",
    )
    return request


@transaction.atomic
def confirm_rollback(*, actor: User, request: RollbackRequest) -> RollbackRequest:
    """A rollback owner (or on-call lead) confirms what a trigger proposed: it runs now."""
    request = locked_request(request.pk)
    require(actor, Action.REQUEST_ROLLBACK, request.environment.system)
    if request.status != RollbackStatus.PROPOSED:
        raise ValidationError(f"This rollback is {request.get_status_display().lower()}.")
    request.status, request.confirmed_by = RollbackStatus.REQUESTED, actor
    request.enqueued_at = timezone.now()
    request.save(update_fields=["status", "confirmed_by", "enqueued_at"])
    transaction.on_commit(lambda: broker.enqueue(request.pk))  # before the notices go out
    record_step(request, actor, "rollback.confirmed", "requested", f"Confirmed by {actor}.")
    return request


@transaction.atomic
def dismiss_rollback(*, actor: User, request: RollbackRequest, reason: str) -> RollbackRequest:
    request = locked_request(request.pk)
    require(actor, Action.REQUEST_ROLLBACK, request.environment.system)
    if request.status != RollbackStatus.PROPOSED:
        raise ValidationError("Only a proposed rollback can be dismissed.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the proposal is dismissed."})
    request.status, request.finished_at = RollbackStatus.DISMISSED, timezone.now()
    request.error = reason.strip()
    request.save(update_fields=["status", "finished_at", "error"])
    record_step(request, actor, "rollback.dismissed", "dismissed", f"Dismissed: {reason.strip()}")
    return request

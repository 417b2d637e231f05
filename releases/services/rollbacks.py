"""ROLL BACK NOW: one transaction records the request, then a Celery task makes it real.

The life of a request: proposed (by a trigger, waiting for a rollback owner) → requested →
running (a task holds a lease on it) → succeeded (the backend reports the target live) or
failed. At most one request is active per environment; pressing again returns it. Every
backend call carries the request's idempotency key, so a re-delivered or swept task that
calls again changes nothing twice. Nothing is lost: `sweep_rollbacks` re-sends requests
nobody picked up (the broker was down) and takes over runs whose worker died.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.models import Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.utils import timezone

from config import handoff
from governance import audit, rows
from governance.audit.hashing import canonical_json
from governance.models import AISystem
from governance.people import display_name, person_label
from governance.permissions import require
from governance.roles import Action
from releases import rollback_hooks
from releases.backends import (
    BackendError,
    BackendResult,
    BackendStatus,
    DeploymentBackend,
    RollbackContext,
    backend_for,
)
from releases.models import (
    Deployment,
    Environment,
    ForensicRecord,
    Release,
    ReleaseComponent,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)
from releases.services import drills

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

PLAN = "rollback plan"  # who asked, for a rollback a trigger of the plan asked for


# --- what a rollback would do ---------------------------------------------------------------


def live_deployment(environment: Environment) -> Deployment | None:
    """What is live in `environment`, with its release."""
    return (
        Deployment.objects.filter(environment=environment, ended_at__isnull=True)
        .select_related("release")
        .first()
    )


def rollback_target(environment: Environment) -> Release | None:
    """The release a rollback would put back: the target of the live release's plan for
    this environment, else the last other release that was live here and was not itself
    rolled back (the last known good). None when nothing is live, or nothing came before.
    The press decides by the same statement."""
    return _press_facts(environment, None).target


@dataclass(frozen=True)
class RollbackChoice:
    """What pressing would do in an environment, for a page to show and send back.

    `further`: a verified rollback put the live release back, so ROLL BACK NOW has done its
    work; a press goes past that release only when it says so (`request_rollback(further=
    True)`), from `live` to `target`. Pages show these releases and post them back as
    `expected_from`/`expected_target`, so what a person confirms is what happens.
    """

    live: Release | None
    target: Release | None
    put_back_by: int | None  # the verified rollback that put `live` back
    put_back_at: datetime | None
    put_back_from: str | None  # the version it replaced

    @property
    def further(self) -> bool:
        return self.put_back_by is not None


def rollback_choice(environment: Environment) -> RollbackChoice:
    """The live release, the target and whether going there is rolling back further: read
    by the press's own statement."""
    facts = _press_facts(environment, None)
    return RollbackChoice(
        facts.live, facts.target, facts.put_back_by, facts.put_back_at, facts.put_back_from
    )


def _active_request(environment: Environment) -> RollbackRequest | None:
    """The environment's active rollback: for a press that lost the race to insert one (a
    press reads it with its facts first)."""
    return (
        RollbackRequest.objects.filter(environment=environment, status__in=RollbackStatus.active())
        .select_related("from_release", "to_release")
        .first()
    )


def _just_done(environment: Environment, live_release_id: int) -> RollbackRequest | None:
    """The rollback that put the live release back moments ago, if one did."""
    since = timezone.now() - timedelta(seconds=settings.ROLLBACK_REPRESS_SECONDS)
    return (
        RollbackRequest.objects.filter(
            environment=environment,
            status=RollbackStatus.SUCCEEDED,
            to_release_id=live_release_id,
            finished_at__gte=since,
        )
        .select_related("from_release", "to_release")
        .first()
    )


@dataclass(frozen=True)
class _PressFacts:
    active_id: int | None  # the environment's active rollback
    live_via: str | None  # how the live release got there: "rollout" or "rollback"
    named: bool  # the caller or the plan names the target (else: the last known good)
    target_was_live: bool  # the named target was live in the environment once
    put_back_by: int | None  # the verified rollback (not a drill) that put the live one back
    put_back_at: datetime | None
    put_back_from: str | None
    live: Release | None
    target: Release | None  # the named target, else the last known good


def _press_facts(environment: Environment, to_release: Release | None) -> _PressFacts:
    with connection.cursor() as cursor:
        cursor.execute(
            _press_facts_sql(),
            {
                "environment": environment.pk,
                "active": RollbackStatus.active(),
                "target": to_release.pk if to_release is not None else None,
                "rolled_back": ReleaseStatus.ROLLED_BACK,
                "succeeded": RollbackStatus.SUCCEEDED,
            },
        )
        row = cursor.fetchone()
    active_id, live_via, named, target_was_live, put_back_by, put_back_at, put_back_from = row[:7]
    live, target = rows.instances(row[7:], Release, Release)
    return _PressFacts(
        active_id, live_via, named, target_was_live, put_back_by, put_back_at, put_back_from,
        live, target,
    )  # fmt: skip


# What a press decides on, read in one statement (so from one snapshot: a rollback that
# finishes meanwhile is either still active here or already the live deployment, never
# neither). Written out rather than six ORM reads, which the presser waits on: each costs
# about a millisecond of compiling and a round trip (measured in bench/rollback_latency.py).
# The pages ask it too (`rollback_choice`): one statement holds the rule of the target, and
# of when a press would go past a release a rollback put back.
@functools.cache
def _press_facts_sql() -> str:
    named = "COALESCE(%(target)s, plan.target_release_id)"
    return f"""
SELECT
    (SELECT id FROM releases_rollbackrequest
     WHERE environment_id = %(environment)s AND status = ANY(%(active)s)) AS active_id,
    live.via,
    {named} IS NOT NULL AS named,
    EXISTS (SELECT 1 FROM releases_deployment
            WHERE environment_id = %(environment)s AND release_id = {named}) AS target_was_live,
    put_back.id, put_back.finished_at, put_back.from_version,
    {rows.columns(Release, "live_release")},
    {rows.columns(Release, "target")}
FROM (SELECT 1) AS one
LEFT JOIN releases_deployment AS live
    ON live.environment_id = %(environment)s AND live.ended_at IS NULL
LEFT JOIN LATERAL (
    SELECT done.id, done.finished_at, replaced.version AS from_version
    FROM releases_rollbackrequest AS done
    LEFT JOIN releases_release AS replaced ON replaced.id = done.from_release_id
    WHERE live.via = 'rollback' AND done.environment_id = %(environment)s
        AND done.status = %(succeeded)s AND NOT done.is_drill
        AND done.to_release_id = live.release_id AND done.finished_at >= live.started_at
    ORDER BY done.finished_at DESC, done.id DESC
    LIMIT 1
) AS put_back ON TRUE
LEFT JOIN releases_release AS live_release ON live_release.id = live.release_id
LEFT JOIN releases_rollbackplan AS plan
    ON plan.release_id = live.release_id AND plan.environment_id = %(environment)s
LEFT JOIN LATERAL (
    SELECT earlier.release_id FROM releases_deployment AS earlier
    JOIN releases_release AS release ON release.id = earlier.release_id
    WHERE earlier.environment_id = %(environment)s AND earlier.ended_at IS NOT NULL
        AND earlier.release_id <> live.release_id AND release.status <> %(rolled_back)s
    ORDER BY earlier.started_at DESC, earlier.id DESC
    LIMIT 1
) AS last_good ON TRUE
LEFT JOIN releases_release AS target
    ON target.id = COALESCE({named}, last_good.release_id)
"""


# --- asking ---------------------------------------------------------------------------------


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
    it. `attach` runs right
    after the request is written, in the same transaction (the incidents app links it).

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
    facts = _press_facts(environment, to_release)
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
    if facts.live_via == "rollback" and not further:
        just_done = _just_done(environment, live_release.pk)
        if just_done is not None:  # a late press of the same button: that rollback is the answer
            return just_done, False
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
    request = _record_request(
        actor=actor,
        environment=environment,
        from_release=live_release,
        to_release=target,
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
    existing = _active_request(environment)
    if existing is None:  # the winner finished already, or its key was this one
        raise ValidationError(
            f"Another rollback of {environment.name} was recorded meanwhile; press again to "
            "see where it stands."
        )
    return existing, False


def _out_of_date(field: str, what: str) -> ValidationError:
    return ValidationError(
        {field: f"The page was out of date: {what}. Nothing was done; look again, then press."}
    )


def _put_back_already(facts: _PressFacts, live: Release) -> ValidationError:
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
    from_release: Release,
    to_release: Release,
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
        transaction.on_commit(lambda: enqueue(request.pk))
    if attach is not None:
        attach(request)
    who = display_name(actor) if actor else "the rollback plan"
    verb = "proposed" if propose else "requested"
    audit.record_event(
        actor=actor,
        action=f"rollback.{verb}",
        obj=request,
        system=environment.system,
        after=_state(request),
    )
    what = "Drill: roll" if drill else "Roll"
    rollback_hooks.notify(
        request,
        verb,
        f"{what} back {environment.name} from {from_release.version} to {to_release.version} "
        f"{verb} by {who}: {request.reason}",
    )
    return request


@transaction.atomic
def confirm_rollback(*, actor: User, request: RollbackRequest) -> RollbackRequest:
    """A rollback owner (or on-call lead) confirms what a trigger proposed: it runs now."""
    request = _locked(request.pk)
    require(actor, Action.REQUEST_ROLLBACK, request.environment.system)
    if request.status != RollbackStatus.PROPOSED:
        raise ValidationError(f"This rollback is {request.get_status_display().lower()}.")
    request.status, request.confirmed_by = RollbackStatus.REQUESTED, actor
    request.enqueued_at = timezone.now()
    request.save(update_fields=["status", "confirmed_by", "enqueued_at"])
    transaction.on_commit(lambda: enqueue(request.pk))  # before the notices go out
    _record(request, actor, "rollback.confirmed", "requested", f"Confirmed by {actor}.")
    return request


@transaction.atomic
def dismiss_rollback(*, actor: User, request: RollbackRequest, reason: str) -> RollbackRequest:
    request = _locked(request.pk)
    require(actor, Action.REQUEST_ROLLBACK, request.environment.system)
    if request.status != RollbackStatus.PROPOSED:
        raise ValidationError("Only a proposed rollback can be dismissed.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the proposal is dismissed."})
    request.status, request.finished_at = RollbackStatus.DISMISSED, timezone.now()
    request.error = reason.strip()
    request.save(update_fields=["status", "finished_at", "error"])
    _record(request, actor, "rollback.dismissed", "dismissed", f"Dismissed: {reason.strip()}")
    return request


def enqueue(request_id: int) -> None:
    """Hand the request to the broker, from this process's sending thread: the press answers
    whatever the broker does. A broker that is down or hung is not the presser's problem:
    the request stays recorded, the thread keeps trying, and the sweep re-sends it anyway
    if this process dies first."""
    from releases.tasks import execute_rollback

    handoff.send(
        execute_rollback,
        (request_id,),
        queue=settings.ROLLBACK_QUEUE,
        label=f"rollback {request_id}",
    )


# --- running (the Celery task calls these) ----------------------------------------------------


def execute_rollback(*, request_id: int) -> RollbackRequest:
    """Claim the request, keep the evidence, call the backend, verify, record the outcome.

    Raises BackendError for the task to retry (transient) or fail (permanent). Safe to run
    twice at once or again later: the claim lets one run at a time, and the backend sees the
    same idempotency key every time. Between the claim and the call only the evidence is
    written: the call is what the on-call lead is waiting for.
    """
    request = _claim(request_id)
    if request is None:
        return RollbackRequest.objects.get(pk=request_id)
    with _lease_kept(request.pk):
        return _run(request)


def _run(request: RollbackRequest) -> RollbackRequest:
    backend = backend_for(request.environment)
    kept_before = request.attempts > 1 and ForensicRecord.objects.filter(request=request).exists()
    if not kept_before and not _keep_forensics(request, *_before_the_change(request, backend)):
        return RollbackRequest.objects.get(pk=request.pk)  # another run kept it and calls
    _load_stacks(request)  # read already, unless the evidence was kept by an earlier run
    result = backend.rollback(
        from_release=request.from_release,
        to_release=request.to_release,
        idempotency_key=request.idempotency_key,
        context=rollback_context(request),  # read already too, as the stacks
    )
    _record_call(request, result)
    deadline = time.monotonic() + settings.ROLLBACK_VERIFY_SECONDS
    while True:
        state = backend.status()
        if state.live_version == request.to_release.version:
            return _succeed(request.pk, {"rollback": result.detail, "status": state.detail})
        if time.monotonic() > deadline:
            raise BackendError(
                f"{request.to_release.version} not reported live within "
                f"{settings.ROLLBACK_VERIFY_SECONDS} s (the backend says "
                f"{state.live_version or 'nothing'} is live)",
                transient=True,
            )
        time.sleep(settings.ROLLBACK_POLL_SECONDS)


def _claim(request_id: int) -> RollbackRequest | None:
    """Take the request for this run, or None if it is finished or another run holds it;
    with its environment, system, both releases and its requester loaded (what the backends
    need).

    No transaction around it: the conditional update is atomic on its own, and what is
    read with it only serves this run (a run that dies after it leaves a lease that runs
    out)."""
    # Two runs of one request (a re-delivery, a sweep) race here: the conditional update
    # lets one through; the other finds the lease taken and leaves. Written out, not built
    # by the ORM: compiling the update and the joined read cost more than running them, and
    # they sit between the press and the backend call (measured in bench/rollback_latency.py).
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            {
                "id": request_id,
                "running": RollbackStatus.RUNNING,
                "requested": RollbackStatus.REQUESTED,
                "now": timezone.now(),
                "lease": settings.ROLLBACK_LEASE_SECONDS,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    request, environment, system, from_release, to_release, requester = rows.instances(
        row, RollbackRequest, Environment, AISystem, Release, Release, get_user_model()
    )
    environment.system = system
    request.environment = environment
    request.from_release, request.to_release = from_release, to_release
    request.requested_by = requester  # named beside the change (rollback_context)
    return request


@functools.cache
def _claim_sql() -> str:
    # Leases on the database's clock (STATEMENT_TIMESTAMP, Django's Now()): see _lease.
    return f"""
WITH claimed AS (
    UPDATE releases_rollbackrequest
    SET status = %(running)s, started_at = COALESCE(started_at, %(now)s),
        attempts = attempts + 1,
        lease_until = STATEMENT_TIMESTAMP() + make_interval(secs => %(lease)s)
    WHERE id = %(id)s AND status IN (%(requested)s, %(running)s)
        AND (lease_until IS NULL OR lease_until <= STATEMENT_TIMESTAMP())
    RETURNING *
)
SELECT {rows.columns(RollbackRequest, "claimed")}, {rows.columns(Environment, "environment")},
    {rows.columns(AISystem, "system")}, {rows.columns(Release, "from_release")},
    {rows.columns(Release, "to_release")}, {rows.columns(get_user_model(), "requester")}
FROM claimed
JOIN releases_environment AS environment ON environment.id = claimed.environment_id
JOIN governance_aisystem AS system ON system.id = environment.system_id
LEFT JOIN releases_release AS from_release ON from_release.id = claimed.from_release_id
JOIN releases_release AS to_release ON to_release.id = claimed.to_release_id
LEFT JOIN {get_user_model()._meta.db_table} AS requester
    ON requester.id = claimed.requested_by_id
"""


def _load_stacks(request: RollbackRequest) -> None:
    """The backends send both stacks: one read of both releases' components (none if they
    are loaded). Written out: it runs while the backend's status is read on a side thread,
    and the ORM's prefetch held the interpreter long enough to delay that read's answer."""
    releases = [
        release
        for release in (request.from_release, request.to_release)
        if release is not None and not rows.is_prefetched(release, "components")
    ]
    if not releases:
        return
    with connection.cursor() as cursor:
        cursor.execute(_stacks_sql(), [[release.pk for release in releases]])
        components = [rows.instances(row, ReleaseComponent)[0] for row in cursor.fetchall()]
    for release in releases:
        rows.prefetched(
            release, "components", [c for c in components if c.release_id == release.pk]
        )


@functools.cache
def _stacks_sql() -> str:
    return f"""
SELECT {rows.columns(ReleaseComponent, "component")} FROM releases_releasecomponent AS component
WHERE component.release_id = ANY(%s) ORDER BY component.id
"""


@contextlib.contextmanager
def _lease_kept(request_id: int) -> Iterator[None]:
    """Renew the run's lease from a side thread while the run works. The lease can then be
    short: a worker that dies stops renewing, and the sweep takes its run over within one
    lease, however long a live run's backend takes."""
    done = threading.Event()
    keeping = _threads("rollback-lease", 64).submit(_renew_lease, request_id, done)
    try:
        yield
    finally:
        done.set()
        keeping.result()


def _threads(name: str, most: int) -> ThreadPoolExecutor:
    """This process's threads for one kind of side work: kept for the process's life, since
    starting a thread per run cost the run a quarter of a millisecond before its backend
    call. Keyed by process, as the backends' HTTP clients: a forked pool process starts its
    own. The lease keepers: one per run, more only where a process runs rollbacks side by
    side; the status read: one."""
    return _threads_of(os.getpid(), name, most)


@functools.cache
def _threads_of(pid: int, name: str, most: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=most, thread_name_prefix=name)


def _renew_lease(request_id: int, done: threading.Event) -> None:
    lease = settings.ROLLBACK_LEASE_SECONDS
    # A run still working after the limit is presumed hung: its lease is left to run out, and
    # the sweep may start another run (the idempotency key keeps its call harmless).
    give_up = time.monotonic() + settings.ROLLBACK_RUN_LIMIT_SECONDS
    try:
        while not done.wait(lease / 3) and time.monotonic() < give_up:
            _renew(request_id, lease)
    except Exception:  # an unrenewed lease runs out: the sweep takes over, as after a crash
        logger.exception("rollback %s: its lease was not renewed", request_id)
    finally:
        connections.close_all()  # this thread's own connection, if it opened one


@transaction.atomic
def _renew(request_id: int, lease: int) -> None:
    # Never waits for the row: whoever holds it is recording the run's outcome (which ends
    # the lease anyway), and a keeper stuck behind it would hold up the run's end.
    running = RollbackRequest.objects.select_for_update(no_key=True, skip_locked=True).filter(
        pk=request_id, status=RollbackStatus.RUNNING
    )
    if running.values_list("pk", flat=True).first() is not None:
        running.update(lease_until=_lease(lease))


@transaction.atomic
def _record_call(request: RollbackRequest, result: BackendResult) -> None:
    """The backend took the call: the run and the call go to the audit trail and the timeline.
    Written after the call, not with the claim: before the call only the evidence is kept."""
    backend = request.environment.get_backend_type_display()
    again = f" (attempt {request.attempts})" if request.attempts > 1 else ""
    # A re-delivered call finds the backend done already: the key made it a no-op.
    taken = "had applied it already" if result.detail.get("replayed") else "accepted it"
    audit.record_event(
        actor=None,
        action="rollback.running",
        obj=request,
        system=request.environment.system,
        after={
            "status": request.status,
            "attempts": request.attempts,
            "error": request.error,
            "backend_replayed": bool(result.detail.get("replayed")),
        },
    )
    rollback_hooks.notify(
        request,
        "running",
        f"Running{again}: the {backend} backend {taken}; verifying "
        f"{request.to_release.version} is live.",
    )


def _before_the_change(
    request: RollbackRequest, backend: DeploymentBackend
) -> tuple[BackendStatus, dict[str, Any]]:
    """What the rollback will destroy: the deployment as the backend reports it, and what the
    other apps collect (the incident's alerts and timeline). A backend read over the network
    is asked on a side thread while this one reads the database (the evidence and the
    stacks the call will send): both are waits."""
    if not backend.status_is_remote:
        return backend.status(), rollback_hooks.collected(request)
    # The context carries the request id into the backend's log lines.
    reading = _threads("rollback-status", 1).submit(contextvars.copy_context().run, backend.status)
    context = rollback_hooks.collected(request)
    _load_stacks(request)  # what the call sends, read while the backend answers
    rollback_context(request)  # and who asked, for which incident (kept on the request)
    return reading.result(), context


def rollback_context(request: RollbackRequest) -> RollbackContext:
    """Why, on whose word and for which incident: what the backend records beside the change.
    Its reads (the people, the incident's link) stay cached on `request`."""
    served = rollback_hooks.served(request)
    requester, confirmer = request.requested_by, request.confirmed_by  # no query for a None
    return RollbackContext(
        reason=request.reason,
        requested_by=person_label(requester) if requester else PLAN,
        confirmed_by=person_label(confirmer) if confirmer else None,
        incident=served.reference if served else None,
        incident_title=served.title if served else None,
        incident_url=settings.SITE_URL + served.url if served else None,
        request_id=request.pk,
        drill=request.is_drill,
    )


@transaction.atomic
def _keep_forensics(
    request: RollbackRequest, backend_state: BackendStatus, context: dict[str, Any]
) -> bool:
    """Keep the evidence; False if another run kept it first (nothing written)."""
    state = {
        "live_version": backend_state.live_version,
        "candidate_version": backend_state.candidate_version,
        "stage": backend_state.stage,
        "traffic_percent": backend_state.traffic_percent,
        "detail": backend_state.detail,
    }
    digest = hashlib.sha256(canonical_json({"backend": state, "context": context}).encode())
    record = ForensicRecord(
        request=request,
        captured_at=timezone.now(),
        backend_state=state,
        context=context,
        digest=digest.hexdigest(),
    )
    # The claim's lease keeps a second run away. Should a stalled run outlive its lease while
    # another keeps the record, the unique request refuses this one, which stops before the
    # backend call: the other run calls. (Written out: the call waits on this insert.)
    if not rows.insert_unless_taken(record):
        return False
    audit.record_event(
        actor=None,
        action="rollback.forensics_kept",
        obj=request,
        system=request.environment.system,
        after={"digest": digest.hexdigest(), "live_version": state["live_version"]},
    )
    return True


@transaction.atomic
def _succeed(request_id: int, response: dict[str, Any]) -> RollbackRequest:
    request = _locked(request_id)
    if request.status != RollbackStatus.RUNNING:
        return request
    now = timezone.now()
    environment = Environment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=request.environment_id
    )
    previous = Deployment.objects.filter(environment=environment, ended_at__isnull=True).first()
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
    Deployment.objects.create(
        environment=environment, release=request.to_release, started_at=now, via="rollback"
    )
    Release.objects.filter(pk=request.to_release_id).update(status=ReleaseStatus.LIVE)
    if request.from_release_id and not request.is_drill:
        still_live = Deployment.objects.filter(
            release_id=request.from_release_id, ended_at__isnull=True
        )
        if not still_live.exists():
            Release.objects.filter(pk=request.from_release_id).update(
                status=ReleaseStatus.ROLLED_BACK
            )
    request.status, request.finished_at, request.lease_until = RollbackStatus.SUCCEEDED, now, None
    request.backend_response = response
    request.save(update_fields=["status", "finished_at", "lease_until", "backend_response"])
    if request.is_drill:
        drills.record_drill(drill=request)
    _record(
        request,
        None,
        "rollback.succeeded",
        "succeeded",
        f"Verified: {request.to_release.version} is live in {environment.name} "
        f"(after {request.attempts} attempt{'s' if request.attempts > 1 else ''}).",
    )
    return request


@transaction.atomic
def fail_rollback(*, request_id: int, error: str, response: Any = None) -> RollbackRequest:
    """Record that the rollback did not happen (a permanent error, or retries exhausted)."""
    request = _locked(request_id)
    if request.status not in (RollbackStatus.REQUESTED, RollbackStatus.RUNNING):
        return request
    request.status, request.finished_at, request.lease_until = (
        RollbackStatus.FAILED,
        timezone.now(),
        None,
    )
    request.error = error[:4000]
    request.backend_response = response if isinstance(response, dict) else {}
    request.save(
        update_fields=["status", "finished_at", "lease_until", "error", "backend_response"]
    )
    if request.is_drill:
        drills.record_drill(drill=request)
    _record(request, None, "rollback.failed", "failed", f"Failed: {request.error}")
    return request


def hold_for_retry(*, request_id: int, seconds: float, error: str) -> None:
    """Between attempts: keep the sweep away until the retry is due, and say what happened.
    One conditional update: a run that ended meanwhile is left as it ended."""
    RollbackRequest.objects.filter(pk=request_id, status=RollbackStatus.RUNNING).update(
        lease_until=_lease(seconds), error=error[:4000]
    )


def sweep_rollbacks() -> int:
    """Re-send what nobody is working on: requests never picked up (the broker was down when
    they were made) and runs whose lease ran out (their worker died). Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ROLLBACK_REQUEUE_SECONDS)
    waiting = RollbackRequest.objects.filter(status=RollbackStatus.REQUESTED, enqueued_at__lt=stale)
    orphaned = RollbackRequest.objects.filter(status=RollbackStatus.RUNNING, lease_until__lt=Now())
    resend = [*waiting.values_list("pk", flat=True), *orphaned.values_list("pk", flat=True)]
    # Stamped before it is handed over: the next sweep leaves it alone for a requeue period.
    RollbackRequest.objects.filter(pk__in=resend).update(enqueued_at=timezone.now())
    for request_id in resend:
        enqueue(request_id)
    return len(resend)


# --- helpers --------------------------------------------------------------------------------


_LOADED = ("environment__system", "from_release", "to_release")


def _lease(seconds: float) -> CombinedExpression:
    """A lease ending `seconds` from now by the database's clock: every worker and the sweep
    compare leases on that one clock, so a worker whose own clock is off cannot take over
    a live run (nor hold a dead one longer)."""
    return Now() + Value(timedelta(seconds=seconds))


def _locked(request_id: int) -> RollbackRequest:
    return (
        RollbackRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*_LOADED)
        .get(pk=request_id)
    )


def _state(request: RollbackRequest) -> dict[str, Any]:
    return {
        "environment": request.environment.slug,
        "from_release": request.from_release.version if request.from_release else None,
        "to_release": request.to_release.version,
        "status": request.status,
        "reason": request.reason,
        "idempotency_key": request.idempotency_key,
        "drill": request.is_drill,
        "trigger": request.trigger,
    }


def _record(
    request: RollbackRequest, actor: User | None, action: str, event: str, message: str
) -> None:
    audit.record_event(
        actor=actor,
        action=action,
        obj=request,
        system=request.environment.system,
        after={"status": request.status, "attempts": request.attempts, "error": request.error},
    )
    rollback_hooks.notify(request, event, message)

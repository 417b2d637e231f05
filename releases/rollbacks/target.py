"""Which release a rollback goes to: what is live, the target, and whether a press would go
past a release a rollback put back; with the requests a press answers with instead (the
active one, the one just done). Reads only; the press decides by the same statement."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from governance import rows
from releases.models import (
    Deployment,
    Environment,
    Release,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)


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
    return press_facts(environment, None).target


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
    # An ungoverned change (an open drift): the backend reports this instead of `live`, and a
    # press puts `live`, the approved release, back (`target` is `live`).
    observed: str | None = None

    @property
    def further(self) -> bool:
        return self.put_back_by is not None

    @property
    def restoring(self) -> bool:
        return self.observed is not None


def rollback_choice(environment: Environment) -> RollbackChoice:
    """The live release, the target and whether going there is rolling back further: read
    by the press's own statement."""
    facts = press_facts(environment, None)
    if facts.restores:
        return RollbackChoice(
            facts.live, facts.live, None, None, None, observed=facts.drift_observed or "nothing"
        )
    return RollbackChoice(
        facts.live, facts.target, facts.put_back_by, facts.put_back_at, facts.put_back_from
    )


def active_request(environment: Environment) -> RollbackRequest | None:
    """The environment's active rollback: for a press that lost the race to insert one (a
    press reads it with its facts first)."""
    return (
        RollbackRequest.objects.filter(environment=environment, status__in=RollbackStatus.active())
        .select_related("from_release", "to_release")
        .first()
    )


def rollback_just_done(environment: Environment, live_release_id: int) -> RollbackRequest | None:
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
class PressFacts:
    active_id: int | None  # the environment's active rollback
    live_via: str | None  # how the live release got there: "rollout" or "rollback"
    named: bool  # the caller or the plan names the target (else: the last known good)
    target_was_live: bool  # the named target was live in the environment once
    put_back_by: int | None  # the verified rollback (not a drill) that put the live one back
    put_back_at: datetime | None
    put_back_from: str | None
    live: Release | None
    target: Release | None  # the named target, else the last known good
    drift_release: int | None = None  # an open drift's recorded release (releases/drift/)
    drift_observed: str | None = None  # what that drift's backend reports

    @property
    def restores(self) -> bool:
        """An open drift of the live release: a press puts it back (the approved release) in
        place of what the backend reports."""
        return self.live is not None and self.drift_release == self.live.pk


def press_facts(environment: Environment, to_release: Release | None) -> PressFacts:
    with connection.cursor() as cursor:
        cursor.execute(press_facts_sql(), press_facts_params(environment, to_release))
        return press_facts_from(cursor.fetchone())


def press_facts_params(environment: Environment, to_release: Release | None) -> dict[str, Any]:
    return {
        "environment": environment.pk,
        "active": RollbackStatus.active(),
        "target": to_release.pk if to_release is not None else None,
        "rolled_back": ReleaseStatus.ROLLED_BACK,
        "succeeded": RollbackStatus.SUCCEEDED,
    }


def press_facts_from(row: Sequence[Any]) -> PressFacts:
    """The facts from the first columns of `row` (a statement that selects the press's
    statement's columns first may select more after them: `PRESS_FACTS_WIDTH`)."""
    active_id, live_via, named, target_was_live, put_back_by, put_back_at, put_back_from = row[:7]
    drift_release, drift_observed = row[7:9]
    live, target = rows.instances(row[9 : press_facts_width()], Release, Release)
    return PressFacts(
        active_id, live_via, named, target_was_live, put_back_by, put_back_at, put_back_from,
        live, target, drift_release, drift_observed,
    )  # fmt: skip


@functools.cache
def press_facts_width() -> int:
    """How many columns the press's statement selects."""
    return 9 + 2 * len(Release._meta.concrete_fields)


# What a press decides on, read in one statement (so from one snapshot: a rollback that
# finishes meanwhile is either still active here or already the live deployment, never
# neither). Written out rather than six ORM reads, which the presser waits on: each costs
# about a millisecond of compiling and a round trip (measured in bench/rollback_latency.py).
# The pages ask it too (`rollback_choice`): one statement holds the rule of the target, and
# of when a press would go past a release a rollback put back.
@functools.cache
def press_facts_sql() -> str:
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
    drift.recorded_release_id, drift.observed_version,
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
LEFT JOIN releases_drift AS drift
    ON drift.environment_id = %(environment)s AND drift.resolved_at IS NULL
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

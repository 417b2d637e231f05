"""The deployment gate: may release R go to stage S of environment E now?

One answer, every reason. The promotion service asks it before it records a step, and so do
the controllers and CI jobs outside Failsafe (releases/api/deploy_gate.py: the JSON answer,
Flagger's webhooks, an Argo Rollouts web metric): a deployment Failsafe would refuse is
refused wherever it starts.

Releases judges what it knows (approval, rollback plan, stage order, a step or a rollback in
flight); other apps add rules (`register_gate_rule`): incidents adds the change freeze.

A rollout goes through the stages in order: once it has begun in an environment, a promotion
may not pass over a stage (back, or the same stage again at another share, is fine), nor
leave a stage before the policy's minimum soak there; a person with the skip role may waive
both with a written reason (`Refusal.waivable`, releases.services.rollouts). A paused
rollout goes nowhere until it is resumed; an aborted one starts over.

A return to the release a rollback puts back is no promotion: whatever moves it (ROLL BACK
NOW, `kubectl argo rollouts undo`, a canary rolled back), only the rollout's mechanics hold
it (one step at a time); no approval, freeze, order, soak or other rule stands between an
environment and its last known good.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from releases.models import (
    AnalysisStatus,
    Environment,
    Release,
    ReleaseStatus,
    RolloutStage,
    StepAction,
    StepStatus,
)
from releases.rollbacks.target import (
    press_facts_from,
    press_facts_params,
    press_facts_sql,
    press_facts_width,
)

STAGE_ORDER = list(RolloutStage.values)
PROMOTABLE = (ReleaseStatus.APPROVED, ReleaseStatus.ROLLING_OUT, ReleaseStatus.LIVE)
CONTROLS = [StepAction.PAUSE, StepAction.RESUME, StepAction.ABORT]


@dataclass(frozen=True)
class Refusal:
    code: str  # stable, for machines: "not_approved", "change_freeze", …
    message: str  # for people, complete on its own
    field: str | None = None  # the promotion form's field it concerns, if one
    # A person with the skip role may promote anyway, with a written reason (stage order,
    # soak): the refusal then stands on the step as what the promotion waived.
    waivable: bool = False


@dataclass(frozen=True)
class Verdict:
    release: Release
    environment: Environment
    stage: str
    refusals: tuple[Refusal, ...]
    rollback: bool  # the release is the one a rollback of the environment puts back

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def waivable(self) -> bool:
        """Refused only for reasons the skip role may waive."""
        return bool(self.refusals) and all(r.waivable for r in self.refusals)

    def as_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "system": self.release.system.slug,
            "environment": self.environment.slug,
            "release": self.release.version,
            "stage": self.stage,
            "rollback": self.rollback,
            "reasons": [{"code": r.code, "message": r.message} for r in self.refusals],
        }


# A rule judges a promotion (never a rollback) and yields what stands in its way.
GateRule = Callable[[Release, Environment, str], Iterable[Refusal]]
_rules: dict[str, GateRule] = {}


def register_gate_rule(name: str, rule: GateRule) -> None:
    """Add a rule the gate asks (by name: an app's ready() registering twice keeps one)."""
    _rules[name] = rule


def deployment_verdict(*, release: Release, environment: Environment, stage: str) -> Verdict:
    """Whether `release` may go to `stage` in `environment` now, with every reason it may not.

    Reads only, in two or three statements (and one per rule): it sits on every
    deployment's path.
    """
    if environment.system_id != release.system_id:
        refusal = Refusal("other_system", "Choose an environment of this system.", "environment")
        return Verdict(release, environment, stage, (refusal,), rollback=False)
    if stage not in STAGE_ORDER:
        refusal = Refusal("unknown_stage", f"Unknown stage {stage!r}.", "stage")
        return Verdict(release, environment, stage, (refusal,), rollback=False)
    facts = _read_facts(release, environment)
    if facts.active_id is not None:  # a rollback under way: its target is where it goes
        returning = facts.active_to_id == release.pk
    else:  # else the release a press would put back
        returning = facts.target_id == release.pk
    refusals = [*_stage_refusals(release, environment, stage, facts, returning=returning)]
    if returning:
        return Verdict(release, environment, stage, tuple(refusals), rollback=True)
    refusals[:0] = _release_refusals(release, facts)
    if facts.active_id is not None:
        refusals.append(
            Refusal(
                "rollback_in_flight",
                f"A rollback of {environment.name} to {facts.active_to_version} is under "
                "way; promote after it ends.",
            )
        )
    for rule in _rules.values():
        refusals.extend(rule(release, environment, stage))
    return Verdict(release, environment, stage, tuple(refusals), rollback=False)


@dataclass(frozen=True)
class _Facts:
    plan_environment_id: int | None  # None: no rollback plan
    required_stages: list[str]  # the gate policy's (none saved: none required)
    soak_minutes: dict[str, int]  # the gate policy's minimum soak by stage
    # (stage, status, action, applied_at) in this environment since its last abort, failed
    # ones left out
    steps: list[tuple[str, str, str, datetime | None]]
    paused_by: str | None  # the rollout is paused here: who paused it, and when
    paused_at: datetime | None
    active_id: int | None  # the environment's active rollback
    active_to_id: int | None
    active_to_version: str | None
    target_id: int | None  # what a press would put back (releases.rollbacks.target)
    aborted_at: str | None  # the stage whose failed analysis aborted the rollout here


# One statement, one snapshot, no ORM compiling: the question sits on every deployment's
# path (bench/gate.py measures it against an empty authenticated API view). The press's own
# statement comes first, so the gate and ROLL BACK NOW agree on what a rollback puts back.
@functools.cache
def _facts_sql() -> str:
    return f"""
SELECT press.*,
    (SELECT environment_id FROM releases_rollbackplan WHERE release_id = %(release)s),
    (SELECT required_stages FROM releases_gatepolicy WHERE system_id = %(system)s),
    (SELECT soak_minutes FROM releases_gatepolicy WHERE system_id = %(system)s),
    ARRAY(
        SELECT ARRAY[stage, status, action, COALESCE(extract(epoch FROM applied_at)::text, '')]
        FROM releases_rolloutstep
        WHERE release_id = %(release)s AND environment_id = %(environment)s
            AND status <> %(failed)s
            AND id >= COALESCE((SELECT max(id) FROM releases_rolloutstep
                                WHERE release_id = %(release)s
                                    AND environment_id = %(environment)s
                                    AND action = %(abort)s), 0)
        ORDER BY requested_at, id
    ),
    control.action, control.requested_at, control_by.username,
    active.to_release_id, active_to.version,
    (SELECT step.stage FROM releases_stageanalysis AS analysis
     JOIN releases_rolloutstep AS step ON step.id = analysis.step_id
     WHERE step.release_id = %(release)s AND step.environment_id = %(environment)s
         AND analysis.status = ANY(%(analysis_failed)s)
     ORDER BY analysis.concluded_at, analysis.id LIMIT 1)
FROM ({press_facts_sql()}) AS press
LEFT JOIN LATERAL (
    SELECT action, requested_at, requested_by_id FROM releases_rolloutstep
    WHERE release_id = %(release)s AND environment_id = %(environment)s
        AND action = ANY(%(controls)s)
    ORDER BY requested_at DESC, id DESC LIMIT 1
) AS control ON TRUE
LEFT JOIN auth_user AS control_by ON control_by.id = control.requested_by_id
LEFT JOIN releases_rollbackrequest AS active ON active.id = press.active_id
LEFT JOIN releases_release AS active_to ON active_to.id = active.to_release_id
"""


def _read_facts(release: Release, environment: Environment) -> _Facts:
    params = {
        **press_facts_params(environment, None),
        "release": release.pk,
        "system": release.system_id,
        "failed": StepStatus.FAILED,
        "abort": StepAction.ABORT,
        "controls": [str(c) for c in CONTROLS],
        "analysis_failed": [AnalysisStatus.FAILED, AnalysisStatus.ERROR],
    }
    with connection.cursor() as cursor:
        cursor.execute(_facts_sql(), params)
        row = cursor.fetchone()
    press = press_facts_from(row)
    (plan_environment, stages, soak, steps, control, control_at, control_by, active_to,
     active_version, aborted) = row[press_facts_width() :]  # fmt: skip
    paused = control == StepAction.PAUSE
    return _Facts(
        plan_environment_id=plan_environment,
        required_stages=list(stages or []),
        # Django leaves json undecoded on its connections: it decodes in the field.
        soak_minutes=dict(json.loads(soak) if isinstance(soak, str) else soak or {}),
        steps=[
            (stage, status, action, datetime.fromtimestamp(float(at), UTC) if at else None)
            for stage, status, action, at in steps
        ],
        paused_by=control_by if paused else None,
        paused_at=control_at if paused else None,
        active_id=press.active_id,
        active_to_id=active_to,
        active_to_version=active_version,
        target_id=press.target.pk if press.target is not None else None,
        aborted_at=aborted,
    )


def _release_refusals(release: Release, facts: _Facts) -> Iterator[Refusal]:
    if release.status == ReleaseStatus.ROLLED_BACK:
        yield Refusal(
            "rolled_back",
            f"{release.version} was rolled back; it returns only through new approvals that "
            "cite the rollback.",
        )
    elif release.status not in PROMOTABLE:
        yield Refusal(
            "not_approved",
            "Only an approved release can be rolled out; "
            f"this one is {release.get_status_display().lower()}.",
        )
    if facts.plan_environment_id is None:
        yield Refusal(
            "no_rollback_plan",
            f"{release.version} has no rollback plan: write one (target, owners, triggers) "
            "before it goes anywhere.",
        )


def _stage_refusals(
    release: Release, environment: Environment, stage: str, facts: _Facts, *, returning: bool
) -> Iterator[Refusal]:
    """The rollout's mechanics: one step at a time, and (for a promotion) the stages the
    policy requires passed first, the stages in order, each soaked, no pause."""
    steps = facts.steps
    promotions = [s for s in steps if s[2] == StepAction.PROMOTE]
    passed = {s for s, status, _, _ in promotions if status == StepStatus.APPLIED}
    required = [] if returning else facts.required_stages
    skipped = [
        s for s in required if STAGE_ORDER.index(s) < STAGE_ORDER.index(stage) and s not in passed
    ]
    if skipped:
        names = ", ".join(RolloutStage(s).label.lower() for s in skipped)
        yield Refusal(
            "stage_skipped",
            f"{RolloutStage(stage).label} in {environment.name} comes after {names}, which "
            f"{release.version} has not passed there.",
            "stage",
        )
    if not returning:
        yield from _order_refusals(stage, promotions)
        yield from _soak_refusals(stage, promotions, facts.soak_minutes)
        if facts.paused_by is not None:
            at = facts.paused_at.astimezone(UTC) if facts.paused_at else None
            yield Refusal(
                "rollout_paused",
                f"The rollout of {release.version} in {environment.name} was paused by "
                f"{facts.paused_by}{f' at {at:%Y-%m-%d %H:%M} UTC' if at else ''}: "
                "resume first.",
            )
    if facts.aborted_at is not None and not returning:
        yield Refusal(
            "analysis_failed",
            f"The analysis of {RolloutStage(facts.aborted_at).label.lower()} failed and aborted "
            f"this rollout in {environment.name}: {release.version} goes no further there.",
        )
    if any(status == StepStatus.PENDING for _, status, _, _ in steps):
        yield Refusal(
            "step_in_flight", "A step of this rollout is still being applied; wait for it."
        )


def _order_refusals(stage: str, promotions: list) -> Iterator[Refusal]:  # type: ignore[type-arg]
    """Once begun, a rollout passes over no stage: from its furthest step it goes to the next
    one, or back, or stays (another traffic share)."""
    if not promotions:
        return  # the first step may start anywhere (the policy's required stages aside)
    furthest = max(STAGE_ORDER.index(s) for s, _, _, _ in promotions)
    between = STAGE_ORDER[furthest + 1 : STAGE_ORDER.index(stage)]
    if not between:
        return
    labels = [RolloutStage(s).label for s in between]
    names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    one = len(labels) == 1
    yield Refusal(
        "stage_order",
        f"{names} {'comes' if one else 'come'} before {RolloutStage(stage).label}: promote to "
        f"{'it' if one else 'them'} first, or skip {'it' if one else 'them'} with a reason.",
        "stage",
        waivable=True,
    )


def soak_clock(
    stage: str, applied_at: datetime | None, soak_minutes: dict[str, int], now: datetime
) -> tuple[int, int] | None:
    """(minutes soaked, minutes required) of a stage applied at `applied_at`; None when the
    stage has no minimum or is not applied yet."""
    required = int(soak_minutes.get(stage) or 0)
    if not required or applied_at is None:
        return None
    return int((now - applied_at).total_seconds() // 60), required


def _soak_refusals(
    stage: str,
    promotions: list,  # type: ignore[type-arg]
    soak_minutes: dict[str, int],
) -> Iterator[Refusal]:
    """Leaving the current stage for a later one waits for its minimum soak."""
    if not promotions:
        return
    current, status, _, applied_at = promotions[-1]
    if status != StepStatus.APPLIED or STAGE_ORDER.index(stage) <= STAGE_ORDER.index(current):
        return
    now = timezone.now()
    clock = soak_clock(current, applied_at, soak_minutes, now)
    if clock is None or applied_at is None:
        return
    required_seconds = clock[1] * 60
    elapsed = (now - applied_at).total_seconds()
    if elapsed >= required_seconds:
        return
    remaining = math.ceil((required_seconds - elapsed) / 60)
    yield Refusal(
        "soak_time",
        f"{RolloutStage(current).label} has soaked {clock[0]} of {clock[1]} minutes: "
        f"{remaining} to go.",
        "stage",
        waivable=True,
    )

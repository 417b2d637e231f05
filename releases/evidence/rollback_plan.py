"""What was the rollback plan in force, and was it followed? Were drills run? The plan's
target, owners, triggers and mode; each rollback checked against it; the drills and outcome.

`plan_summary` is also the monitoring plan's view of a rollback plan (incidents). Read in a
fixed number of queries. See `governance.evidence.questions.answer_all` for the shape.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet

from governance.evidence.questions import Params
from governance.people import person_label
from releases.evidence.shared import (
    ROLLBACKS_DONE_OR_UNDER_WAY,
    Answer,
    environment_ref,
    find_release,
    person,
    release_ref,
    releases_live_in_period,
    rollback_record,
    rollbacks_queryset,
)
from releases.models import Deployment, Release, RollbackMode, RollbackPlan, RollbackRequest

if TYPE_CHECKING:
    from governance.models import AISystem


def plan_summary(plan: RollbackPlan) -> Answer:
    """A rollback plan as the answers and the monitoring plan show it."""
    return {
        "environment": environment_ref(plan.environment),
        "target_release": plan.target_release.version if plan.target_release else None,
        "owners": [person(owner) for owner in plan.owners.all()],
        "mode": plan.mode,
        "mode_label": plan.get_mode_display(),
        "cooldown_minutes": plan.cooldown_minutes,
        "triggers": [
            {
                "metric": t.metric,
                "comparison": t.comparison,
                "threshold": t.threshold,
                "window_minutes": t.window_minutes,
                "text": f"{t.metric} {t.get_comparison_display()} {t.threshold.normalize():f} "
                f"for {t.window_minutes} min",
            }
            for t in plan.triggers.all()
        ],
        "written_by": person(plan.written_by),
        "updated_at": plan.updated_at,
    }


def followed_checks(
    request: RollbackRequest, plan: RollbackPlan, live_before: set[tuple[int, int]]
) -> list[Answer]:
    """Did the rollback follow its plan: its environment, its target (or, when the plan names
    none, a release live there before), its owners, and — if monitoring asked — one of its
    triggers in a mode that lets triggers ask? No query: the plan is prefetched."""
    checks: list[Answer] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    here = request.environment
    check(
        "environment",
        request.environment_id == plan.environment_id,
        f"In {here.name}"
        + (", the plan's environment." if request.environment_id == plan.environment_id
           else f"; the plan covers {plan.environment.name}."),
    )  # fmt: skip
    to = request.to_release
    if plan.target_release_id is not None:
        assert plan.target_release is not None
        check(
            "target",
            request.to_release_id == plan.target_release_id,
            f"Went to {to.version}; the plan names {plan.target_release.version}.",
        )
    else:
        known = (request.environment_id, request.to_release_id) in live_before
        check(
            "target",
            known,
            f"Went to {to.version}, "
            + ("a release live there before (the plan names no fixed target: the last "
               "known good)." if known else "which was never live there before."),
        )  # fmt: skip
    owners = {owner.pk: owner for owner in plan.owners.all()}
    if request.requested_by_id is None and request.confirmed_by_id is None:
        automatic = plan.mode == RollbackMode.AUTOMATIC
        check(
            "owner",
            automatic,
            "Asked by the plan's trigger, as its automatic mode allows."
            if automatic
            else f"Asked by a trigger, but the plan's mode is {plan.get_mode_display().lower()}.",
        )
    else:
        # Who may press is whoever holds the right to roll back on the system (the plan's
        # owners, and on-call leads by their role): the press itself checked it, so a press
        # by someone the plan does not name still followed it.
        who = request.confirmed_by or request.requested_by
        assert who is not None
        verb = "Confirmed" if request.confirmed_by_id else "Requested"
        standing = (
            "a rollback owner the plan names"
            if who.pk in owners
            else "not named by the plan, but holding the right to roll back on the system "
            "(on-call leads may press too), which the press checked"
        )
        check("owner", True, f"{verb} by {person_label(who)}, {standing}.")
    if request.trigger:
        metrics = {t.metric for t in plan.triggers.all()}
        metric = str(request.trigger.get("metric", ""))
        ok = metric in metrics and plan.mode != RollbackMode.MANUAL
        check(
            "trigger",
            ok,
            f"Trigger {metric or 'unnamed'}: "
            + ("one of the plan's triggers." if ok else "not a trigger the plan lets ask."),
        )
    else:
        check("trigger", True, "A person pressed ROLL BACK NOW, which every plan mode allows.")
    return checks


def _plan_queryset() -> QuerySet[Release]:
    plans = RollbackPlan.objects.select_related(
        "environment", "target_release", "written_by"
    ).prefetch_related("owners", "triggers")
    return Release.objects.prefetch_related("components", Prefetch("rollback_plan", queryset=plans))


def _plan_answers(releases: list[Release]) -> list[Answer]:
    """Three queries for any number of releases: their rollbacks and the periods before."""
    requests = list(
        rollbacks_queryset().filter(
            from_release__in=releases, is_drill=False, status__in=ROLLBACKS_DONE_OR_UNDER_WAY
        )
    )
    environment_ids = {r.environment_id for r in requests}
    live_before = set(
        Deployment.objects.filter(environment_id__in=environment_ids).values_list(
            "environment_id", "release_id"
        )
    )
    by_release: dict[int, list[RollbackRequest]] = defaultdict(list)
    for request in requests:
        assert request.from_release_id is not None
        by_release[request.from_release_id].append(request)
    answers = []
    for release in releases:
        plan: RollbackPlan | None = getattr(release, "rollback_plan", None)
        rows = []
        for request in by_release.get(release.pk, []):
            row = rollback_record(request)
            if plan is not None:
                row["checks"] = followed_checks(request, plan, live_before)
                row["followed"] = all(c["ok"] for c in row["checks"])
            else:
                row["checks"], row["followed"] = [], False
            rows.append(row)
        answers.append(
            {
                "release": release_ref(release),
                "plan": plan_summary(plan) if plan is not None else None,
                "rollbacks": rows,
                "followed": all(r["followed"] for r in rows) if rows else None,
            }
        )
    return answers


def _drills(system: AISystem) -> QuerySet[RollbackRequest]:
    return rollbacks_queryset().filter(environment__system=system, is_drill=True)


def answer_rollback_plan(system: AISystem, params: Params) -> Answer:
    release = find_release(system, params.release, _plan_queryset())
    if release is None:
        return {"release": None, "plan": None, "rollbacks": [], "followed": None, "drills": []}
    drills = _drills(system).filter(from_release=release)  # drills of rolling it back
    return {**_plan_answers([release])[0], "drills": [rollback_record(d) for d in drills]}


def answer_rollback_plan_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    releases = list(
        _plan_queryset().filter(pk__in=releases_live_in_period(system, start, end))
        .order_by("created_at", "id")
    )  # fmt: skip
    drills = _drills(system).filter(requested_at__gte=start, requested_at__lt=end)
    return {"releases": _plan_answers(releases), "drills": [rollback_record(d) for d in drills]}

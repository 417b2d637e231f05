"""What the release page shows, read in a fixed number of queries: shared by the page and by
its actions' error answers."""

from __future__ import annotations

from typing import Any

from governance.http import AuthenticatedHttpRequest
from governance.permissions import (
    allowed_actions,
)
from governance.roles import Action
from releases import queries
from releases.content import diff
from releases.forms import (
    ApprovalForm,
    GateCheckForm,
    PromotionForm,
    RollbackPlanForm,
)
from releases.forms.gate_evidence import gate_evidence_formset
from releases.forms.plans import trigger_initial
from releases.gate_policy import evaluate, policy_for
from releases.intake.prefill import first_environment
from releases.models import Decision, Environment, GateCriterion, Release, ReleaseStatus
from releases.notifications import link_for
from releases.services.approvals import approval_conflicts, takedown_of, valid_approvals
from releases.services.deploy_gate import PROMOTABLE
from releases.services.drills import drill_possible
from releases.services.plans import eligible_rollback_owners
from releases.services.registration import submission_problems
from releases.views import rollout_panel

STARTED_FROM = "started-from"  # ?compare= for the release a draft started from


def page_context(request: AuthenticatedHttpRequest, release: Release, **forms: Any) -> dict:
    """Everything the release page shows, from the prefetched release (fixed query count)."""
    user = request.user
    policy = policy_for(release.system)
    checks = list(release.gate_checks.all())
    evaluation = evaluate(release, policy, checks)
    actions = allowed_actions(user, release.system)
    environments = queries.environments_with_live(release.system_id)
    compare_to = _compare_environment(request, environments)
    # The release it started from, unless the reader asked for an environment: its diff is
    # what the author changed.
    wanted = request.GET.get("compare", STARTED_FROM)
    started_from = release.based_on if wanted == STARTED_FROM else None
    base = started_from or (compare_to.live if compare_to else None)  # type: ignore[attr-defined]
    plan = getattr(release, "rollback_plan", None)
    approvals = list(release.approvals.all())
    takedown = takedown_of(release)
    counted = {a.pk for a in valid_approvals(release, takedown)} if release.is_frozen else set()
    conflict = approval_conflicts(user, release) if Action.APPROVE_RELEASE in actions else None
    this_round = [
        a for a in approvals if a.cites_rollback_id == (takedown.pk if takedown else None)
    ]
    decided = any(a.approver_id == user.pk for a in this_round)
    refused = any(a.decision == Decision.REJECT for a in this_round)
    can_promote = Action.PROMOTE_RELEASE in actions and release.status in PROMOTABLE
    records_evidence = release.status in (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW) and bool(
        {Action.REGISTER_RELEASE, Action.APPROVE_RELEASE} & set(actions)
    )
    gate_formset = forms.get("gate_formset") or (
        gate_evidence_formset(gate_criteria(release, evaluation)) if records_evidence else None
    )
    steps = list(release.rollout_steps.all())
    live_here = {e.pk for e in environments if getattr(e, "live", None) == release}
    # The analysis panel loads itself (and polls): the page only says whether there is one.
    analysed = any(hasattr(step, "analysis") for step in steps) or (
        plan is not None and any(t.is_promql for t in plan.triggers.all())
    )
    return {
        "release": release,
        "actions": actions,
        "can_edit": Action.REGISTER_RELEASE in actions,
        "policy": policy,
        "gate": evaluation,
        "checks": sorted(checks, key=lambda c: (c.recorded_at, c.pk), reverse=True),
        "approvals": approvals,
        "counted_approvals": counted,
        "approval_conflict": conflict,
        "can_decide": (
            Action.APPROVE_RELEASE in actions
            and (release.status == ReleaseStatus.IN_REVIEW or (takedown and not refused))
            and conflict is None
            and not decided
        ),
        "takedown": takedown,
        "takedown_link": link_for(takedown) if takedown else None,
        "can_promote": can_promote,
        "plan": plan,
        "environments": environments,
        "compare_to": None if started_from else compare_to,
        "started_from": started_from,
        "started_from_key": STARTED_FROM,
        "diff": diff(release, base),
        "registered_from": queries.registered_from(release),
        "steps": steps,
        "rollout": rollout_panel.panel(
            release,
            steps,
            actions=actions,
            soak_minutes=policy.soak_minutes or {},
            live_environment_ids=live_here,
        ),
        "analysed": analysed,
        "problems": submission_problems(release) if release.status == ReleaseStatus.DRAFT else [],
        # The permission is already established by `actions`: no second permission subquery.
        "events": queries.release_history(release, [*checks, *approvals, *steps, plan])
        if Action.VIEW_AUDIT in actions
        else [],
        "gate_form": forms.get("gate_form") or GateCheckForm(),
        "records_evidence": records_evidence,
        "gate_formset": gate_formset,
        "gate_rows": _gate_rows(evaluation, gate_formset) if gate_formset is not None else [],
        "approval_form": forms.get("approval_form")
        or ApprovalForm(initial={"cites_rollback": takedown.pk if takedown else None}),
        # Forms only where the page shows them: each costs queries and rendering.
        "plan_form": forms.get("plan_form")
        or (plan_form(release, plan) if release.status == ReleaseStatus.DRAFT else None),
        "promotion_form": forms.get("promotion_form")
        or (
            PromotionForm(
                release=release,
                in_flight=queries.rollouts_in_flight(release),
                initial=PromotionForm.initial_after(steps),
            )
            if can_promote
            else None
        ),
        "errors": forms.get("errors", []),
    }


def gate_criteria(release: Release, evaluation: Any) -> list[str]:
    """The criteria the gate form has a row for: all of them, in the gate table's order,
    but the rollback path where a rollback drill must show it (the service refuses a word)."""
    drill = drill_possible(release.system)
    return [
        s.criterion.value
        for s in evaluation.states
        if not (drill and s.criterion == GateCriterion.ROLLBACK_READY)
    ]


def _gate_rows(evaluation: Any, formset: Any) -> list[tuple[Any, Any]]:
    """Each form row beside its criterion's state (the result so far)."""
    states = {s.criterion.value: s for s in evaluation.states}
    return [(states.get(row["criterion"].value()), row) for row in formset]


def _compare_environment(
    request: AuthenticatedHttpRequest, environments: list[Environment]
) -> Environment | None:
    """The environment picked in the page (?compare=slug), else production, else the first."""
    wanted = request.GET.get("compare")
    for environment in environments:
        if environment.slug == wanted:
            return environment
    production = [e for e in environments if e.is_production]
    candidates = production or environments
    return candidates[0] if candidates else None


def plan_form(release: Release, plan: Any, data: Any = None) -> RollbackPlanForm:
    # A new plan opens on what a plan usually is: for the first (production) environment,
    # owned by the system's rollback owner when there is only one.
    owners = eligible_rollback_owners(release)
    environment = first_environment(release.system)
    initial: dict[str, Any] = {
        "environment": environment.pk if environment else None,
        "owners": list(owners) if len(owners) == 1 else [],
    }
    triggers: list[dict[str, Any]] = []
    if plan is not None:
        triggers = [trigger_initial(t) for t in plan.triggers.all()]
        initial = {
            "environment": plan.environment_id,
            "target_release": plan.target_release_id,
            "owners": [o.pk for o in plan.owners.all()],
            "mode": plan.mode,
            "cooldown_minutes": plan.cooldown_minutes,
            "advance_on_analysis": plan.advance_on_analysis,
        }
    return RollbackPlanForm(
        data,
        release=release,
        owner_ids=owners,
        initial=initial,
        triggers=triggers,
    )

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
from releases.gate_policy import evaluate, policy_for
from releases.models import Decision, Environment, Release, ReleaseStatus
from releases.notifications import link_for
from releases.services.approvals import approval_conflicts, takedown_of, valid_approvals
from releases.services.deploy_gate import PROMOTABLE
from releases.services.plans import eligible_rollback_owners
from releases.services.registration import submission_problems

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
    steps = list(release.rollout_steps.all())
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
        "analysed": analysed,
        "problems": submission_problems(release) if release.status == ReleaseStatus.DRAFT else [],
        # The permission is already established by `actions`: no second permission subquery.
        "events": queries.release_history(release, [*checks, *approvals, *steps, plan])
        if Action.VIEW_AUDIT in actions
        else [],
        "gate_form": forms.get("gate_form") or GateCheckForm(),
        "approval_form": forms.get("approval_form")
        or ApprovalForm(initial={"cites_rollback": takedown.pk if takedown else None}),
        # Forms only where the page shows them: each costs queries and rendering.
        "plan_form": forms.get("plan_form")
        or (plan_form(release, plan) if release.status == ReleaseStatus.DRAFT else None),
        "promotion_form": forms.get("promotion_form")
        or (PromotionForm(release=release) if can_promote else None),
        "errors": forms.get("errors", []),
    }


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


def _trigger_line(trigger: Any) -> str:
    """A trigger as the plan form's text box takes it: "p95_latency_ms > 300 5"."""
    threshold = f"{trigger.threshold:f}".rstrip("0").rstrip(".")
    return (
        f"{trigger.metric} {trigger.get_comparison_display()} {threshold} {trigger.window_minutes}"
    )


def _promql_line(trigger: Any) -> str:
    """A PromQL trigger as the plan form takes it: "name: query > 0.05 for 5"."""
    threshold = f"{trigger.threshold:f}".rstrip("0").rstrip(".")
    return (
        f"{trigger.metric}: {trigger.query} {trigger.get_comparison_display()} {threshold} "
        f"for {trigger.window_minutes}"
    )


def plan_form(release: Release, plan: Any, data: Any = None) -> RollbackPlanForm:
    initial = {}
    if plan is not None:
        triggers = list(plan.triggers.all())
        initial = {
            "environment": plan.environment_id,
            "target_release": plan.target_release_id,
            "owners": [o.pk for o in plan.owners.all()],
            "mode": plan.mode,
            "cooldown_minutes": plan.cooldown_minutes,
            "triggers": "\n".join(_trigger_line(t) for t in triggers if not t.is_promql),
            "promql_triggers": "\n".join(_promql_line(t) for t in triggers if t.is_promql),
            "advance_on_analysis": plan.advance_on_analysis,
        }
    return RollbackPlanForm(
        data, release=release, owner_ids=eligible_rollback_owners(release), initial=initial
    )

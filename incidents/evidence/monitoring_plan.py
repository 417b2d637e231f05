"""The post-market monitoring plan of a system (EU AI Act Art. 72(3), Annex IV(9)), generated
from what Failsafe already holds: what each environment runs, the rollback plan's triggers
that watch it, the drills that prove the way back, where monitoring data comes from, how
incidents are reviewed and reported. Nothing in it is typed twice.

A provider of a high-risk system documents the plan as part of its technical documentation;
the plan shows the state at generation and the period's activity (drills, alerts, incidents,
reviews), and lists what is missing for the monitoring to work, so the gaps are in the plan
rather than found by the auditor. The same JSON is `post_market_monitoring_plan.json` in the
evidence pack and the report's part drawn from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.utils import timezone

from governance.evidence.report import Block, Table, text, when
from incidents.art73 import operator_duty, rules, sector_limit
from incidents.models import ActionItem, ActionItemStatus, Alert, AlertToken, Incident, PostMortem
from releases.evidence.rollback_plan import plan_summary
from releases.evidence.shared import environment_ref
from releases.gate_policy import policy_for
from releases.models import Environment, GateCriterion, RollbackPlan, RollbackRequest
from releases.queries import live_release, with_live

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem

ARTICLE = "Art. 72"
DRILL_DUE = timedelta(days=90)  # a way back not rehearsed for a quarter is a gap
PURPOSE = (
    "Art. 72(1)-(3): the provider collects, documents and analyses data on the system's "
    "performance throughout its lifetime, to evaluate its continuous compliance; this plan, "
    "part of the technical documentation (Annex IV(9)), says how."
)
DEPLOYER_NOTE = (
    "Your organisation deploys this system: Art. 26(5) asks a deployer to monitor its operation "
    "on the basis of the instructions for use and to inform the provider, who keeps the "
    "Art. 72 plan. This plan documents the deployer's side of that monitoring."
)


def _drill(request: RollbackRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    finished = request.finished_at
    return {
        "id": request.pk,
        "requested_at": request.requested_at,
        "status": request.status,
        "to_release": request.to_release.version,
        "seconds_to_finish": (
            round((finished - request.requested_at).total_seconds(), 1) if finished else None
        ),
    }


def _drills(system: AISystem, period: PackPeriod) -> tuple[dict[int, Any], dict[int, int]]:
    """Per environment: its last drill ever, and how many the period had (two queries)."""
    drills = RollbackRequest.objects.filter(environment__system=system, is_drill=True)
    last = {
        drill.environment_id: drill
        for drill in drills.select_related("to_release")
        .order_by("environment_id", "-requested_at", "-id")
        .distinct("environment_id")
    }
    counts = dict(
        drills.filter(requested_at__gte=period.since, requested_at__lt=period.until)
        .values_list("environment_id")
        .annotate(n=Count("id"))
        .values_list("environment_id", "n")
    )
    return last, counts


def _environment(
    environment: Environment,
    plans: dict[int, RollbackPlan],
    last: RollbackRequest | None,
    drilled: int,
    now: datetime,
) -> dict[str, Any]:
    live = live_release(environment)
    plan = plans.get(live.pk) if live is not None else None
    gaps = []
    if live is None:
        gaps.append("Nothing is recorded live here.")
    elif plan is None:
        gaps.append(f"The live release {live.version} has no rollback plan: nothing watches it.")
    elif not plan.triggers.all():
        gaps.append("The rollback plan names no trigger: only people watch this environment.")
    if plan is not None and plan.environment_id != environment.pk:
        gaps.append(f"The live release's plan covers {plan.environment.name}, not this one.")
    if live is not None and (last is None or last.requested_at < now - DRILL_DUE):
        gaps.append(f"No rollback drill in the last {DRILL_DUE.days} days.")
    return {
        "environment": environment_ref(environment),
        "backend": environment.get_backend_type_display(),
        "live_release": live.version if live is not None else None,
        "plan": plan_summary(plan) if plan is not None else None,
        "drills_in_period": drilled,
        "last_drill": _drill(last),
        "gaps": gaps,
    }


def _sources(system: AISystem, period: PackPeriod) -> dict[str, Any]:
    tokens = AlertToken.objects.filter(system=system, revoked_at__isnull=True)
    received = (
        Alert.objects.filter(
            system=system, received_at__gte=period.since, received_at__lt=period.until
        )
        .values("source")
        .annotate(alerts=Count("id"))
        .order_by("source")
    )
    return {
        "alert_tokens": [
            {"name": t.name, "prefix": t.prefix, "last_used_at": t.last_used_at}
            for t in tokens.order_by("name")
        ],
        "alerts_in_period": {row["source"]: row["alerts"] for row in received},
    }


def _review(system: AISystem, period: PackPeriod) -> dict[str, Any]:
    incidents = Incident.objects.filter(
        system=system, detected_at__gte=period.since, detected_at__lt=period.until
    )
    counts = incidents.aggregate(
        incidents=Count("id"), serious=Count("id", filter=Q(is_serious=True))
    )
    return {
        **counts,
        "postmortems_published": PostMortem.objects.filter(
            incident__in=incidents, published_at__isnull=False
        ).count(),
        "action_items_open": ActionItem.objects.filter(incident__system=system)
        .exclude(status=ActionItemStatus.DONE)
        .count(),
    }


def _reporting(system: AISystem) -> dict[str, Any]:
    duty = operator_duty(system)
    limit = sector_limit(system)
    return {
        "operator_role": system.operator_role,
        "duty": duty["duty"],
        "duty_article": duty["article"],
        "sector_limit": limit["notice"] if limit else None,
        "deadlines": [f"{d['days']} days: {d['applies_to']} ({d['article']})"
                      for d in rules()["deadlines"]],
    }  # fmt: skip


def monitoring_plan(system: AISystem, period: PackPeriod) -> dict[str, Any]:
    """The plan as of now, with the period's activity."""
    now = timezone.now()
    environments = list(
        with_live(Environment.objects.filter(system=system)).order_by("position", "id")
    )
    plans = {
        plan.release_id: plan
        for plan in RollbackPlan.objects.filter(release__system=system)
        .select_related("environment", "target_release", "written_by")
        .prefetch_related("owners", "triggers")
    }
    policy = policy_for(system)
    criteria = dict(GateCriterion.choices)
    last, drilled = _drills(system, period)
    rows = [_environment(e, plans, last.get(e.pk), drilled.get(e.pk, 0), now) for e in environments]
    gaps = [f"{row['environment']['name']}: {gap}" for row in rows for gap in row["gaps"]]
    if not environments:
        gaps.append("No environment is registered: nothing is deployed through Failsafe.")
    sources = _sources(system, period)
    if not sources["alert_tokens"]:
        gaps.append("No alert token: monitoring cannot send alerts, only people declare.")
    return {
        "article": ARTICLE,
        "purpose": PURPOSE,
        "applies": system.risk_category == "high",
        "deployer_note": DEPLOYER_NOTE if system.operator_role == "deployer" else None,
        "system": {
            "slug": system.slug,
            "name": system.name,
            "intended_purpose": system.intended_purpose,
            "risk_category": system.risk_category,
        },
        "generated_at": now,
        "period": period.as_json(),
        "release_gate": {
            "criteria": [criteria.get(c, c) for c in policy.required_criteria],
            "approvals_required": policy.approvals_required,
        },
        "environments": rows,
        "data_sources": sources,
        "review": _review(system, period),
        "reporting": _reporting(system),
        "gaps": gaps,
    }


# --- the report's part, from the JSON ---------------------------------------------------------


def _trigger_lines(plan: dict[str, Any] | None) -> str:
    if not plan:
        return "no rollback plan"
    triggers = "; ".join(t["text"] for t in plan["triggers"]) or "no trigger"
    owners = ", ".join(text(p and (p.get("name") or p.get("username"))) for p in plan["owners"])
    return (
        f"{triggers} · {plan['mode_label']}, cooldown {plan['cooldown_minutes']} min · "
        f"back to {plan['target_release'] or 'the last known good'} · owners: {owners or '—'}"
    )


def plan_blocks(plan: dict[str, Any]) -> list[Block]:
    scope = Block("Scope and purpose", summary=str(plan["purpose"]))
    system = plan["system"]
    scope.line(f"{system['name']} ({system['slug']}): {system['intended_purpose']}")
    if not plan["applies"]:
        scope.line("Not registered as high-risk: Art. 72 does not bind it; kept as good practice.")
    if plan["deployer_note"]:
        scope.line(plan["deployer_note"])
    gate = plan["release_gate"]
    scope.line(
        "Before going live, every release meets: "
        + (", ".join(gate["criteria"]) or "no criterion")
        + f"; {gate['approvals_required']} approval(s), separation of duties."
    )

    watched = Block(
        "What is monitored, and what acts on it",
        summary="Per environment: the live release, its rollback plan's triggers (metric, "
        "threshold, window), the mode, and the last rollback drill.",
    )
    watched.table(
        Table(
            ["Environment", "Live", "Triggers · mode · target · owners", "Last drill", "Drills"],
            [
                [
                    row["environment"]["name"]
                    + (" (production)" if row["environment"]["is_production"] else ""),
                    text(row["live_release"]),
                    _trigger_lines(row["plan"]),
                    (
                        f"{when(row['last_drill']['requested_at'])}, {row['last_drill']['status']}"
                        if row["last_drill"]
                        else "never"
                    ),
                    str(row["drills_in_period"]),
                ]
                for row in plan["environments"]
            ],
            widths=[1.2, 0.7, 3.2, 1.4, 0.5],
        )
    )

    sources = Block(
        "Data collected",
        summary="Alerts from monitoring (Prometheus through Alertmanager, or a generic "
        "webhook) with a per-system token; incidents declared by people; deployments and "
        "rollbacks recorded as they happen.",
    )
    data = plan["data_sources"]
    for token in data["alert_tokens"]:
        sources.line(
            f"Alert token {token['name']} ({token['prefix']}…), last used "
            f"{when(token['last_used_at'])}."
        )
    received = ", ".join(f"{n} from {source}" for source, n in data["alerts_in_period"].items())
    sources.line(f"Alerts received in the period: {received or 'none'}.")

    review = Block(
        "Analysis and review",
        summary="Each incident runs detection → containment → rollback → recovery → review; the "
        "blameless post-mortem's action items are followed to done.",
    )
    figures = plan["review"]
    review.line(
        f"In the period: {figures['incidents']} incident(s), {figures['serious']} serious, "
        f"{figures['postmortems_published']} post-mortem(s) published; "
        f"{figures['action_items_open']} action item(s) open now."
    )

    reporting = Block("Serious incidents", summary=plan["reporting"]["duty_article"])
    reporting.line(plan["reporting"]["duty"])
    if plan["reporting"]["sector_limit"]:
        reporting.line(plan["reporting"]["sector_limit"])
    for line in plan["reporting"]["deadlines"]:
        reporting.line(line)

    gaps = Block("Gaps", summary="What the monitoring lacks now, to close before the audit.")
    for gap in plan["gaps"]:
        gaps.line(gap)
    if not plan["gaps"]:
        gaps.line("None found.")
    return [scope, watched, sources, review, reporting, gaps]

"""What releases contribute to the auditor's questions: what was live where and when, how it
was approved, what changed, and the rollback plan in force and whether it was followed.

Registered with `governance.evidence.questions` in ReleasesConfig.ready(). Every answer is a
plain dict (see `governance.evidence.questions.answer_all` for the shapes) read in a fixed
number of queries, whatever the number of releases, checks, approvals or deployments.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import ENVIRONMENT_AT, RELEASE, Choice, Params
from governance.people import person_label
from releases.content import diff
from releases.gate_policy import latest_checks, policy_for
from releases.models import (
    Approval,
    Decision,
    Deployment,
    Environment,
    ForensicRecord,
    GateCheck,
    GateCriterion,
    GatePolicy,
    Release,
    ReleaseComponent,
    ReleaseStatus,
    RollbackMode,
    RollbackPlan,
    RollbackRequest,
    RollbackStatus,
    RolloutStep,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

Answer = dict[str, Any]

# A dismissed proposal is no rollback: nobody acted on it.
ROLLBACKS_DONE_OR_UNDER_WAY = [
    RollbackStatus.REQUESTED,
    RollbackStatus.RUNNING,
    RollbackStatus.SUCCEEDED,
    RollbackStatus.FAILED,
]


# --- shared pieces --------------------------------------------------------------------------


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def component(item: ReleaseComponent | dict[str, str] | None) -> dict[str, str] | None:
    if item is None:
        return None
    if isinstance(item, dict):
        return {"version": item["version"], "uri": item["uri"], "digest": item["digest"]}
    return {"version": item.version, "uri": item.uri, "digest": item.digest}


def release_ref(release: Release) -> Answer:
    """A release with its whole decision stack (components prefetched: no query)."""
    return {
        "id": release.pk,
        "version": release.version,
        "title": release.title,
        "status": release.status,
        "content_digest": release.content_digest,
        "url": release.get_absolute_url(),
        "stack": {c.kind: component(c) for c in release.components.all()},
    }


def rollback_row(request: RollbackRequest) -> Answer:
    """One rollback (or drill) as the answers show it; relations select_related by the caller."""
    finished = request.finished_at
    minutes = (finished - request.requested_at).total_seconds() / 60 if finished else None
    try:
        forensics: ForensicRecord | None = request.forensics
    except ObjectDoesNotExist:
        forensics = None
    return {
        "id": request.pk,
        "environment": request.environment.slug,
        "from_release": request.from_release.version if request.from_release else None,
        "to_release": request.to_release.version,
        "status": request.status,
        "status_label": request.get_status_display(),
        "is_drill": request.is_drill,
        "reason": request.reason,
        "requested_by": person(request.requested_by),
        "confirmed_by": person(request.confirmed_by),
        "automatic": request.requested_by_id is None,
        "trigger": request.trigger,
        "requested_at": request.requested_at,
        "finished_at": finished,
        "minutes_to_finish": round(minutes, 2) if minutes is not None else None,
        "error": request.error,
        # Art. 73(6): what was live, kept before the rollback altered anything (None for a
        # request that never reached the backend).
        "forensic_digest": forensics.digest if forensics is not None else None,
        "forensics_captured_at": forensics.captured_at if forensics is not None else None,
    }


def rollbacks_queryset() -> QuerySet[RollbackRequest]:
    return RollbackRequest.objects.select_related(
        "environment", "from_release", "to_release", "requested_by", "confirmed_by", "forensics"
    ).order_by("requested_at", "id")


def overlapping(start: datetime, end: datetime) -> Q:
    """Deployment periods that overlap [start, end)."""
    return Q(started_at__lt=end) & (Q(ended_at__isnull=True) | Q(ended_at__gt=start))


def with_stack(queryset: QuerySet[Release]) -> QuerySet[Release]:
    return queryset.prefetch_related("components")


def releases_in_period(system: AISystem, start: datetime, end: datetime) -> QuerySet[Release]:
    """The releases a period's evidence concerns: live at some moment of it, or registered,
    submitted or decided in it. Oldest first."""
    live = Deployment.objects.filter(overlapping(start, end), environment__system=system)
    return (
        Release.objects.filter(system=system)
        .filter(
            Q(pk__in=live.values("release_id"))
            | Q(created_at__gte=start, created_at__lt=end)
            | Q(submitted_at__gte=start, submitted_at__lt=end)
            | Q(decided_at__gte=start, decided_at__lt=end)
        )
        .order_by("created_at", "id")
    )


def releases_live_in_period(system: AISystem, start: datetime, end: datetime) -> QuerySet[Release]:
    live = Deployment.objects.filter(overlapping(start, end), environment__system=system)
    return Release.objects.filter(pk__in=live.values("release_id")).order_by("created_at", "id")


def find_environment(system: AISystem, slug: str | None) -> Environment | None:
    """The environment named, or the production one (else the first); None if it has none."""
    environments = list(Environment.objects.filter(system=system))
    if slug is not None:
        for environment in environments:
            if environment.slug == slug:
                return environment
        raise ValidationError({"environment": f"{system.name} has no environment {slug!r}."})
    production = [e for e in environments if e.is_production]
    candidates = production or environments
    return candidates[0] if candidates else None


def find_release(
    system: AISystem, version: str | None, queryset: QuerySet[Release]
) -> Release | None:
    """The release named, or the one live in production now (else the newest submitted one,
    else the newest); None if the system has no release."""
    queryset = queryset.filter(system=system)
    if version is not None:
        release = queryset.filter(version=version).first()
        if release is None:
            raise ValidationError({"release": f"{system.name} has no release {version!r}."})
        return release
    live = Deployment.objects.filter(
        environment__system=system, environment__is_production=True, ended_at__isnull=True
    ).values("release_id")
    return (
        queryset.filter(pk__in=live).first()
        or queryset.filter(submitted_at__isnull=False).order_by("-created_at", "-id").first()
        or queryset.order_by("-created_at", "-id").first()
    )


def environment_ref(environment: Environment) -> Answer:
    return {
        "slug": environment.slug,
        "name": environment.name,
        "is_production": environment.is_production,
    }


# --- which release was live in environment E at time T? -------------------------------------

TIMELINE_LIMIT = 50


def _period(deployment: Deployment) -> Answer:
    return {
        "release": release_ref(deployment.release),
        "started_at": deployment.started_at,
        "ended_at": deployment.ended_at,
        "via": deployment.via,
    }


def _deployments() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("release").prefetch_related("release__components")


def answer_live(system: AISystem, params: Params) -> Answer:
    environment = find_environment(system, params.environment)
    at = params.at or timezone.now()
    if environment is None:
        return {"environment": None, "at": at, "live": None, "timeline": []}
    timeline = list(_deployments().filter(environment=environment)[:TIMELINE_LIMIT])
    live = next(
        (p for p in timeline if p.started_at <= at and (p.ended_at is None or p.ended_at > at)),
        None,
    )
    if live is None and timeline and timeline[-1].started_at > at:
        # Older than the timeline shown: one indexed query for the period in force then.
        live = (
            _deployments()
            .filter(environment=environment, started_at__lte=at)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
            .first()
        )
    return {
        "environment": environment_ref(environment),
        "at": at,
        "live": _period(live) if live else None,
        "timeline": [
            {**_period(p), "in_force": live is not None and p.pk == live.pk} for p in timeline
        ],
    }


def answer_live_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    periods: dict[int, list[Answer]] = defaultdict(list)
    for deployment in (
        _deployments()
        .filter(overlapping(start, end), environment__system=system)
        .order_by("started_at", "id")
    ):
        periods[deployment.environment_id].append(_period(deployment))
    return {
        "environments": [
            {**environment_ref(e), "periods": periods.get(e.pk, [])}
            for e in Environment.objects.filter(system=system)
        ]
    }


# --- which evaluation and gate checks approved it, and who approved it? ---------------------


def _approval_queryset() -> QuerySet[Release]:
    return Release.objects.select_related("author").prefetch_related(
        "components",
        Prefetch("gate_checks", queryset=GateCheck.objects.select_related("recorded_by")),
        Prefetch("approvals", queryset=Approval.objects.select_related("approver")),
    )


def _check(check: GateCheck | None) -> Answer | None:
    if check is None:
        return None
    return {
        "comparison": check.comparison,
        "comparison_label": check.get_comparison_display(),
        "measured_value": check.measured_value,
        "target": check.target,
        "unit": check.unit,
        "passed": check.passed,
        "evidence_uri": check.evidence_uri,
        "note": check.note,
        "recorded_by": person(check.recorded_by),
        "recorded_at": check.recorded_at,
        # A rollback drill's check proves the path for a while only.
        "drill": getattr(check, "drill_id", None),
        "valid_until": getattr(check, "valid_until", None),
    }


def _in_force(check: GateCheck, at: datetime) -> bool:
    valid_until = getattr(check, "valid_until", None)
    return check.passed and (valid_until is None or valid_until > at)


def _approval(release: Release, policy: GatePolicy) -> Answer:
    """From the release's prefetched checks and approvals: no query.

    The gate is read as it stood when the release was decided (else now): the checks
    recorded by then, a drill's check counting only while it was valid. It is read against
    the system's policy today (a policy keeps no history; the audit trail has its changes).
    """
    as_of = release.decided_at or timezone.now()
    checks = [c for c in release.gate_checks.all() if c.recorded_at <= as_of]
    latest = latest_checks(checks)
    required = set(policy.required_criteria)
    criteria = [
        {
            "criterion": criterion.value,
            "label": criterion.label,
            "required": criterion.value in required,
            "passed": latest.get(criterion.value) is not None
            and _in_force(latest[criterion.value], as_of),
            "check": _check(latest.get(criterion.value)),
        }
        for criterion in GateCriterion
    ]
    approvals = list(release.approvals.all())
    stack = {c.kind: c for c in release.components.all()}
    given = sum(
        a.decision == Decision.APPROVE
        and a.release_digest == release.content_digest
        and getattr(a, "cites_rollback_id", None) is None
        for a in approvals
    )
    return {
        "release": release_ref(release),
        "author": person(release.author),
        "submitted_at": release.submitted_at,
        "decided_at": release.decided_at,
        "evaluation": component(stack.get("evaluation")),
        "gate": {
            "as_of": as_of,
            "passed": all(c["passed"] for c in criteria if c["required"]),
            "approvals_required": policy.approvals_required,
            "approvals_given": given,
            "criteria": criteria,
        },
        "approvals": [
            {
                "approver": person(a.approver),
                "decision": a.decision,
                "decision_label": a.get_decision_display(),
                "comment": a.comment,
                "decided_at": a.decided_at,
                "release_digest": a.release_digest,
                "digest_matches": a.release_digest == release.content_digest,
                # A rolled-back release's return: approvals citing the rollback behind it.
                "cites_rollback": getattr(a, "cites_rollback_id", None),
            }
            for a in approvals
        ],
    }


def answer_approval(system: AISystem, params: Params) -> Answer:
    release = find_release(system, params.release, _approval_queryset())
    if release is None:
        return {"release": None}
    return _approval(release, policy_for(system))


def answer_approval_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    policy = policy_for(system)
    releases = _approval_queryset().filter(pk__in=releases_in_period(system, start, end))
    return {"releases": [_approval(r, policy) for r in releases.order_by("created_at", "id")]}


# --- what changed since the previous version? -----------------------------------------------


def _bases(releases: list[Release]) -> dict[int, tuple[Release | None, str]]:
    """Each release's previous version: the release it replaced when it first went live in
    production (else in the first environment it reached), else the one registered before
    it. Three queries, whatever the number of releases."""
    ids = [r.pk for r in releases]
    if not ids:
        return {}
    system_ids = {r.system_id for r in releases}
    periods = (
        Deployment.objects.filter(environment__system_id__in=system_ids)
        .select_related("environment")
        .order_by("started_at", "id")
    )
    # release id → (replaced release id, reason), production first
    replaced: dict[int, tuple[int, str]] = {}
    replaced_outside: dict[int, tuple[int, str]] = {}
    last_in: dict[int, Deployment] = {}  # environment id → the period before
    for period in periods.iterator():
        before = last_in.get(period.environment_id)
        if (
            period.via == "rollout"
            and before is not None
            and before.release_id != period.release_id
        ):
            hit = (before.release_id, f"the release it replaced in {period.environment.name}")
            if period.environment.is_production:
                replaced.setdefault(period.release_id, hit)
            else:
                replaced_outside.setdefault(period.release_id, hit)
        last_in[period.environment_id] = period
    for release_id, hit in replaced_outside.items():
        replaced.setdefault(release_id, hit)
    registered = list(
        Release.objects.filter(system_id__in=system_ids)
        .order_by("created_at", "id")
        .values_list("pk", "system_id")
    )
    previous: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for pk, system_id in registered:
        if system_id in last_of:
            previous[pk] = last_of[system_id]
        last_of[system_id] = pk
    wanted = {replaced[pk][0] for pk in ids if pk in replaced} | {
        previous[pk] for pk in ids if pk not in replaced and pk in previous
    }
    found = {r.pk: r for r in with_stack(Release.objects.filter(pk__in=wanted))}
    bases: dict[int, tuple[Release | None, str]] = {}
    for pk in ids:
        if pk in replaced:
            bases[pk] = (found[replaced[pk][0]], replaced[pk][1])
        elif pk in previous:
            bases[pk] = (found[previous[pk]], "the version registered before it")
        else:
            bases[pk] = (None, "the first release of the system")
    return bases


def _changes(release: Release, base: Release | None, reason: str) -> Answer:
    changes = diff(release, base)  # the release page's diff, on prefetched components
    return {
        "release": release_ref(release),
        "base": release_ref(base) if base is not None else None,
        "base_reason": reason,
        "components": [
            {
                "kind": c.kind.value,
                "label": c.kind.label,
                "before": component(c.before),
                "after": component(c.after),
                "changed": c.changed,
                "fields_changed": c.fields_changed if c.changed else [],
            }
            for c in changes.components
        ],
        "card": [
            {
                "field": c.field,
                "label": c.label,
                "before": c.before,
                "after": c.after,
                "changed": c.changed,
            }
            for c in changes.card
        ],
        "change_categories": [{"value": c.value, "label": c.label} for c in changes.categories],
    }


def answer_changes(system: AISystem, params: Params) -> Answer:
    release = find_release(system, params.release, with_stack(Release.objects.all()))
    if release is None:
        return {"release": None}
    base, reason = _bases([release])[release.pk]
    return _changes(release, base, reason)


def answer_changes_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    went_live = Deployment.objects.filter(
        environment__system=system, via="rollout", started_at__gte=start, started_at__lt=end
    )
    releases = list(
        with_stack(Release.objects.filter(pk__in=went_live.values("release_id"))).order_by(
            "created_at", "id"
        )
    )
    bases = _bases(releases)
    return {"releases": [_changes(r, *bases[r.pk]) for r in releases]}


# --- the rollback plan in force, and was it followed? Were drills run? ----------------------


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
            row = rollback_row(request)
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
    return {**_plan_answers([release])[0], "drills": [rollback_row(d) for d in drills]}


def answer_rollback_plan_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    releases = list(
        _plan_queryset().filter(pk__in=releases_live_in_period(system, start, end))
        .order_by("created_at", "id")
    )  # fmt: skip
    drills = _drills(system).filter(requested_at__gte=start, requested_at__lt=end)
    return {"releases": _plan_answers(releases), "drills": [rollback_row(d) for d in drills]}


# --- pickers and the evidence this app holds ------------------------------------------------


def environment_choices(system: AISystem) -> list[Choice]:
    return [
        Choice(e.slug, e.name, "production" if e.is_production else "")
        for e in Environment.objects.filter(system=system)
    ]


def release_choices(system: AISystem) -> list[Choice]:
    releases = Release.objects.filter(system=system).order_by("-created_at", "-id")
    return [
        Choice(r.version, f"{r.version} · {r.title}", ReleaseStatus(r.status).label)
        for r in releases.only("version", "title", "status")
    ]


def evidence_counts(system: AISystem, start: datetime, end: datetime) -> dict[EvidenceKind, int]:
    """What this app holds for the period, in one query."""
    releases = releases_in_period(system, start, end).values("pk")
    rollbacks = RollbackRequest.objects.filter(
        environment__system=system, requested_at__gte=start, requested_at__lt=end
    )
    return registry.count_all(
        {
            EvidenceKind.RELEASE: Release.objects.filter(pk__in=releases),
            EvidenceKind.GATE_CHECK: GateCheck.objects.filter(release__in=releases),
            EvidenceKind.APPROVAL: Approval.objects.filter(release__in=releases),
            EvidenceKind.ROLLBACK_PLAN: RollbackPlan.objects.filter(release__in=releases),
            EvidenceKind.DEPLOYMENT: Deployment.objects.filter(
                overlapping(start, end), environment__system=system
            ),
            EvidenceKind.ROLLOUT_STEP: RolloutStep.objects.filter(
                environment__system=system, requested_at__gte=start, requested_at__lt=end
            ),
            EvidenceKind.ROLLBACK_REQUEST: rollbacks.filter(is_drill=False).exclude(
                status=RollbackStatus.DISMISSED
            ),
            EvidenceKind.ROLLBACK_DRILL: rollbacks.filter(is_drill=True),
            EvidenceKind.FORENSIC_RECORD: ForensicRecord.objects.filter(
                request__environment__system=system,
                captured_at__gte=start,
                captured_at__lt=end,
            ),
        }
    )


def evidence_links(system: AISystem) -> dict[EvidenceKind, str]:
    releases = reverse("releases:release-list") + f"?system={system.slug}"
    environments = reverse("releases:system-environments", args=[system.slug])
    questions = "governance:evidence-question"
    return {
        EvidenceKind.RELEASE: releases,
        EvidenceKind.GATE_CHECK: reverse(questions, args=[system.slug, "approval"]),
        EvidenceKind.APPROVAL: reverse(questions, args=[system.slug, "approval"]),
        EvidenceKind.ROLLBACK_PLAN: reverse(questions, args=[system.slug, "rollback_plan"]),
        EvidenceKind.DEPLOYMENT: reverse(questions, args=[system.slug, "live"]),
        EvidenceKind.ROLLOUT_STEP: releases,
        EvidenceKind.ROLLBACK_REQUEST: environments,
        EvidenceKind.ROLLBACK_DRILL: reverse(questions, args=[system.slug, "rollback_plan"]),
        EvidenceKind.FORENSIC_RECORD: environments,
    }


def register() -> None:
    """Called from ReleasesConfig.ready()."""
    registry.register(
        registry.Question(
            key="live",
            short="Live at a time",
            title="Which release was live in an environment at a given time?",
            summary="The whole decision stack in force — model, threshold policy and every "
            "other component, with their digests — from the deployment history.",
            order=10,
            inputs=(ENVIRONMENT_AT,),
            answer=answer_live,
            answer_period=answer_live_period,
            template="governance/evidence/_answer_live.html",
            kinds=(EvidenceKind.DEPLOYMENT, EvidenceKind.RELEASE),
        )
    )
    registry.register(
        registry.Question(
            key="approval",
            short="Approval",
            title="Which evaluation and gate checks approved it, and who approved it?",
            summary="The evaluation report, every gate criterion with its measurement and "
            "evidence, and each approver's decision, time and comment.",
            order=20,
            inputs=(RELEASE,),
            answer=answer_approval,
            answer_period=answer_approval_period,
            template="governance/evidence/_answer_approval.html",
            kinds=(EvidenceKind.GATE_CHECK, EvidenceKind.APPROVAL, EvidenceKind.RELEASE),
        )
    )
    registry.register(
        registry.Question(
            key="changes",
            short="Changes",
            title="What changed since the previous version?",
            summary="Component by component and model-card field by field, against the "
            "release it replaced (else the version registered before it).",
            order=30,
            inputs=(RELEASE,),
            answer=answer_changes,
            answer_period=answer_changes_period,
            template="governance/evidence/_answer_changes.html",
            kinds=(EvidenceKind.RELEASE,),
        )
    )
    registry.register(
        registry.Question(
            key="rollback_plan",
            short="Rollback plan",
            title="What was the rollback plan in force, and was it followed?",
            summary="The plan's target, owners, triggers and mode; each rollback checked "
            "against it; and the rollback drills run, with their outcome.",
            order=50,
            inputs=(RELEASE,),
            answer=answer_rollback_plan,
            answer_period=answer_rollback_plan_period,
            template="governance/evidence/_answer_rollback_plan.html",
            kinds=(
                EvidenceKind.ROLLBACK_PLAN,
                EvidenceKind.ROLLBACK_REQUEST,
                EvidenceKind.ROLLBACK_DRILL,
            ),
        )
    )
    registry.register_picker("environment", environment_choices)
    registry.register_picker("release", release_choices)
    registry.register_source(
        registry.EvidenceSource(
            name="releases",
            kinds=(
                EvidenceKind.RELEASE,
                EvidenceKind.GATE_CHECK,
                EvidenceKind.APPROVAL,
                EvidenceKind.ROLLBACK_PLAN,
                EvidenceKind.DEPLOYMENT,
                EvidenceKind.ROLLOUT_STEP,
                EvidenceKind.ROLLBACK_REQUEST,
                EvidenceKind.ROLLBACK_DRILL,
                EvidenceKind.FORENSIC_RECORD,
            ),
            count=evidence_counts,
            links=evidence_links,
        )
    )

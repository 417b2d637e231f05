"""htmx pages for releases: list, register, the release page and its actions, approvals queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.pagecache import cached_page, owning_system, system_version
from governance.permissions import (
    allowed_actions,
    get_system_or_404,
    require,
    visible_systems,
)
from governance.roles import Action
from governance.views import apply_service_errors
from releases import queries, rollbacks, services
from releases.content import diff
from releases.filters import ReleaseListFilter
from releases.forms import (
    ApprovalForm,
    EnvironmentForm,
    EnvironmentRollbackForm,
    GateCheckForm,
    GatePolicyForm,
    PromotionForm,
    ReleaseForm,
    RollbackPlanForm,
)
from releases.gate_policy import evaluate, policy_for, summarise
from releases.models import Decision, Environment, Release, ReleaseStatus, RollbackRequest
from releases.notifications import link_for
from releases.services.approvals import approval_conflicts, takedown_of, valid_approvals
from releases.services.plans import eligible_rollback_owners
from releases.services.registration import submission_problems
from releases.services.rollouts import PROMOTABLE

LIST_PAGE_SIZE = 50


@require_GET
def release_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    releases = queries.release_rows(request.user)
    filterset = ReleaseListFilter(request.GET, queryset=releases, user=request.user)
    page = list(filterset.qs[:LIST_PAGE_SIZE]) if filterset.is_valid() else []
    policies = queries.policies_for({r.system_id for r in page})
    context = {
        "filter": filterset,
        "rows": [(r, summarise(r, policies[r.system_id])) for r in page],
        "can_register": visible_systems(request.user, Action.REGISTER_RELEASE).exists(),
    }
    template = "releases/_release_table.html" if request.htmx else "releases/release_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def release_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    systems = visible_systems(request.user, Action.REGISTER_RELEASE).order_by("name")
    if not systems.exists():
        raise PermissionDenied("You are not a model owner of any AI system.")
    initial = {"system": systems.filter(slug=request.GET.get("system", "")).first()}
    form = ReleaseForm(request.POST or None, systems=systems, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            release = services.create_release(
                actor=request.user,
                system=form.cleaned_data["system"],
                version=form.cleaned_data["version"],
                **form.service_arguments(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Release {release.version} is registered as a draft.")
            return redirect(release)
    status = 400 if form.errors else 200
    return render(request, "releases/release_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def release_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    release = queries.release_detail(pk, request.user)
    require(request.user, Action.REGISTER_RELEASE, release.system)
    if release.is_frozen:
        messages.error(request, "This release is frozen since its submission; register a new one.")
        return redirect(release)
    data = request.POST or None
    form = ReleaseForm(
        data, systems=None, release=release, initial=ReleaseForm.initial_from(release)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_release(actor=request.user, release=release, **form.service_arguments())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Draft saved.")
            return redirect(release)
    status = 400 if form.errors else 200
    return render(
        request, "releases/release_form.html", {"form": form, "release": release}, status=status
    )


def _page_context(request: AuthenticatedHttpRequest, release: Release, **forms: Any) -> dict:
    """Everything the release page shows, from the prefetched release (fixed query count)."""
    user = request.user
    policy = policy_for(release.system)
    checks = list(release.gate_checks.all())
    evaluation = evaluate(release, policy, checks)
    actions = allowed_actions(user, release.system)
    environments = queries.environments_with_live(release.system_id)
    compare_to = _compare_environment(request, environments)
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
    return {
        "release": release,
        "actions": actions,
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
        "compare_to": compare_to,
        "diff": diff(release, compare_to.live if compare_to else None),  # type: ignore[attr-defined]
        "steps": steps,
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
        or (_plan_form(release, plan) if release.status == ReleaseStatus.DRAFT else None),
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


def _plan_form(release: Release, plan: Any, data: Any = None) -> RollbackPlanForm:
    initial = {}
    if plan is not None:
        initial = {
            "environment": plan.environment_id,
            "target_release": plan.target_release_id,
            "owners": [o.pk for o in plan.owners.all()],
            "mode": plan.mode,
            "cooldown_minutes": plan.cooldown_minutes,
            "triggers": "\n".join(_trigger_line(t) for t in plan.triggers.all()),
        }
    return RollbackPlanForm(
        data, release=release, owner_ids=eligible_rollback_owners(release), initial=initial
    )


@require_GET
def release_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def render_page() -> HttpResponse:
        release = queries.release_detail(pk, request.user)
        context = _page_context(request, release)
        if request.htmx and request.htmx.target == "release-diff":
            return render(request, "releases/_diff.html", context)
        return render(request, "releases/release_detail.html", context)

    version = system_version(owning_system(Release, pk), request.user)
    return cached_page(request, version, render_page)


def _act(
    request: AuthenticatedHttpRequest,
    pk: int,
    form_name: str,
    make_form: Callable[[Release], Any] | None,
    call: Callable[[Release, dict], str],
) -> HttpResponse:
    """Run a release action: on success back to the page, else the page with the errors (400).

    A refused action changed nothing (the service's transaction rolled back), so the release
    loaded here serves the error page too.
    """
    release = queries.release_detail(pk, request.user)
    form = make_form(release) if make_form is not None else None
    errors: list[str] = []
    if form is None or form.is_valid():
        try:
            message = call(release, form.cleaned_data if form is not None else {})
        except ValidationError as error:
            if form is not None and hasattr(error, "error_dict"):
                apply_service_errors(form, error)
            else:
                errors = error.messages
        else:
            messages.success(request, message)
            return (
                HttpResponseClientRedirect(release.get_absolute_url())
                if request.htmx
                else redirect(release)
            )
    forms = {form_name: form} if form is not None else {}
    context = _page_context(request, release, errors=errors, **forms)
    return render(request, "releases/release_detail.html", context, status=400)


@require_POST
def release_submit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def submit(release: Release, _: dict) -> str:
        services.submit_release(actor=request.user, release=release)
        return "Submitted for review. The release is now frozen."

    return _act(request, pk, "", None, submit)


@require_POST
def gate_check_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def record(release: Release, data: dict) -> str:
        check = services.record_gate_check(actor=request.user, release=release, **data)
        return f"{check.get_criterion_display()}: {'passed' if check.passed else 'failed'}."

    return _act(request, pk, "gate_form", lambda _: GateCheckForm(request.POST), record)


@require_POST
def approval_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def decide(release: Release, data: dict) -> str:
        cited = data.pop("cites_rollback")
        cites = RollbackRequest.objects.filter(pk=cited, from_release=release).first()
        approval = services.record_approval(
            actor=request.user, release=release, cites_rollback=cites, **data
        )
        return f"Recorded: {approval.get_decision_display().lower()}."

    return _act(request, pk, "approval_form", lambda _: ApprovalForm(request.POST), decide)


@require_POST
def plan_save(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def save(release: Release, data: dict) -> str:
        services.save_rollback_plan(actor=request.user, release=release, **data)
        return "Rollback plan saved."

    return _act(
        request, pk, "plan_form", lambda release: _plan_form(release, None, request.POST), save
    )


@require_POST
def promotion_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def promote(release: Release, data: dict) -> str:
        step = services.promote_release(actor=request.user, release=release, **data)
        return f"{step.get_stage_display()} in {step.environment.name} requested."

    return _act(
        request,
        pk,
        "promotion_form",
        lambda release: PromotionForm(request.POST, release=release),
        promote,
    )


@require_GET
def approval_queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    queue = queries.approval_queue(request.user)
    # Oldest first, one page: a longer queue is a process problem the count makes visible.
    waiting = list(queue.prefetch_related("gate_checks")[:LIST_PAGE_SIZE])
    policies = queries.policies_for({r.system_id for r in waiting})
    rows = [(r, summarise(r, policies[r.system_id])) for r in waiting]
    more = queue.count() - len(waiting)
    return render(request, "releases/approval_queue.html", {"rows": rows, "more": more})


def _environments_page(
    request: AuthenticatedHttpRequest, system: AISystem, status: int = 200, **forms: Any
) -> HttpResponse:
    policy = policy_for(system)
    environments = queries.environments_with_live(system.pk)
    context = {
        "system": system,
        "environments": environments,
        "rollback_rows": _rollback_rows(environments),
        "drill_days": settings.ROLLBACK_DRILL_DAYS,
        "policy": policy,
        "actions": allowed_actions(request.user, system),
        "environment_form": forms.get("environment_form") or EnvironmentForm(),
        "editing": forms.get("editing"),
        "policy_form": forms.get("policy_form")
        or GatePolicyForm(
            initial={
                "required_criteria": policy.required_criteria,
                "approvals_required": policy.approvals_required,
            }
        ),
    }
    return render(request, "releases/system_environments.html", context, status=status)


def _rollback_rows(environments: list[Environment]) -> dict[int, dict[str, Any]]:
    """Per environment: the latest rollback and, when none is active, what one would do
    (`choice`: after a verified rollback, rolling back further; its releases are both the
    ones shown and the ones the press sends back)."""
    latest: dict[int, RollbackRequest] = {}
    requests = RollbackRequest.objects.filter(environment__in=environments).select_related(
        "to_release", "from_release"
    )
    for rollback in requests.order_by("environment_id", "-requested_at", "-id").distinct(
        "environment_id"
    ):
        latest[rollback.environment_id] = rollback
    rows = {}
    for environment in environments:
        live = environment.live  # type: ignore[attr-defined]
        request = latest.get(environment.pk)
        active = request is not None and request.is_active
        choice = None if active or live is None else rollbacks.rollback_choice(environment)
        rows[environment.pk] = {"latest": request, "active": active, "choice": choice}
    return rows


@require_POST
def environment_rollback(
    request: AuthenticatedHttpRequest, slug: str, environment_id: int
) -> HttpResponse:
    """ROLL BACK NOW from the environments page (or a drill, outside production)."""
    system = get_system_or_404(request.user, slug, Action.REQUEST_ROLLBACK)
    environment = get_object_or_404(Environment, system=system, pk=environment_id)
    form = EnvironmentRollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why you roll back: it goes to the audit trail.")
        return redirect("releases:system-environments", slug=system.slug)
    try:
        data = form.cleaned_data
        rollback, created = rollbacks.request_rollback(
            actor=request.user,
            environment=environment,
            reason=data["reason"],
            drill=data["drill"],
            further=data["further"],
            expected_from=data["expected_from"] or None,
            expected_target=data["expected_target"] or None,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        what = "Drill" if rollback.is_drill else "Rollback"
        what += " further" if created and data["further"] else ""
        state = "requested" if created else f"already {rollback.get_status_display().lower()}"
        messages.success(
            request,
            f"{what} of {environment.name} to {rollback.to_release.version}: {state}.",
        )
    return redirect("releases:system-environments", slug=system.slug)


@require_GET
def system_environments(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    return _environments_page(request, get_system_or_404(request.user, slug))


@require_POST
def environment_save(
    request: AuthenticatedHttpRequest, slug: str, environment_id: int | None = None
) -> HttpResponse:
    """Add an environment, or change one (secrets left empty are kept)."""
    system = get_system_or_404(request.user, slug, Action.CHANGE)
    environment = (
        get_object_or_404(Environment, system=system, pk=environment_id) if environment_id else None
    )
    form = EnvironmentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if environment is None:
                services.create_environment(actor=request.user, system=system, **data)
            else:
                services.update_environment(
                    actor=request.user,
                    environment=environment,
                    name=data["name"],
                    is_production=data["is_production"],
                    backend_type=data["backend_type"],
                    backend_config=data["backend_config"],
                    backend_secrets=data["backend_secrets"] or None,
                )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Environment {data['name']} saved.")
            return redirect("releases:system-environments", slug=system.slug)
    return _environments_page(
        request, system, status=400, environment_form=form, editing=environment
    )


@require_POST
def gate_policy_save(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, Action.CHANGE)
    form = GatePolicyForm(request.POST)
    if form.is_valid():
        try:
            services.update_gate_policy(actor=request.user, system=system, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Gate policy saved.")
            return redirect("releases:system-environments", slug=system.slug)
    return _environments_page(request, system, status=400, policy_form=form)

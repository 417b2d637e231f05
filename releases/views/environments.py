"""A system's environments page: the live release per environment, ROLL BACK NOW (and drills),
adding or changing an environment, the gate policy."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.permissions import (
    allowed_actions,
    get_system_or_404,
)
from governance.roles import Action
from governance.views import apply_service_errors
from releases import queries, rollbacks, services
from releases.forms import (
    EnvironmentForm,
    EnvironmentRollbackForm,
    GatePolicyForm,
)
from releases.gate_policy import policy_for
from releases.models import Environment, RollbackRequest


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
                "required_stages": policy.required_stages,
                **GatePolicyForm.initial_soak(policy.soak_minutes or {}),
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
                    prometheus_url=data["prometheus_url"],
                    prometheus_token=data["prometheus_token"] or None,
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

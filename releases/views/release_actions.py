"""The release page's actions (submit, gate check, decision, rollback plan, promotion): each
calls its service and answers with the page, or the page and the errors (400)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from governance.http import AuthenticatedHttpRequest
from governance.views import apply_service_errors
from releases import queries, services
from releases.forms import (
    ApprovalForm,
    GateCheckForm,
    PromotionForm,
)
from releases.forms.gate_evidence import gate_evidence_formset
from releases.gate_policy import evaluate, policy_for
from releases.models import Release, RollbackRequest
from releases.views.release_page import gate_criteria, page_context, plan_form


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
    context = page_context(request, release, errors=errors, **forms)
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
def gate_evidence_save(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The gate form: every filled row recorded at once, or none and each row's errors."""
    release = queries.release_detail(pk, request.user)
    criteria = gate_criteria(release, evaluate(release, policy_for(release.system)))
    formset = gate_evidence_formset(criteria, request.POST)
    errors: list[str] = []
    if formset.is_valid():
        filled = formset.filled()
        try:
            checks = services.record_gate_evidence(
                actor=request.user, release=release, checks=[row.check() for _, row in filled]
            )
        except services.GateEvidenceErrors as error:
            for number, row_error in error.by_row.items():
                apply_service_errors(filled[number][1], row_error)
        except ValidationError as error:
            errors = error.messages
        else:
            passed = sum(check.passed for check in checks)
            messages.success(
                request,
                f"{len(checks)} gate check{'s' if len(checks) != 1 else ''} recorded: "
                f"{passed} passed, {len(checks) - passed} failed.",
            )
            return redirect(release.get_absolute_url() + "#gate")
    context = page_context(request, release, errors=errors, gate_formset=formset)
    return render(request, "releases/release_detail.html", context, status=400)


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
        request, pk, "plan_form", lambda release: plan_form(release, None, request.POST), save
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
        lambda release: PromotionForm(
            request.POST, release=release, in_flight=queries.rollouts_in_flight(release)
        ),
        promote,
    )

"""Alert tokens of one AI system: list them, create one (its secret shown once), revoke one.

Who: the people who may change the system (Action.CHANGE: its owners), and only they, see
this page. The service requires the same permission for every write. A token's name, prefix
and last use tell how the system's monitoring is wired: operational detail for whoever
manages that integration, not for everyone who can see the system. So a role holder without
CHANGE gets 403 for the list too, and anyone who cannot see the system gets 404.

The secret exists in exactly one response: the one answering the creation. It is not put in
a flash message (kept in the session), a cache or a log, the response is marked no-store,
and only its sha256 digest is kept (incidents.services.alert_tokens).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.permissions import get_system_or_404
from governance.roles import Action
from governance.views import apply_service_errors
from incidents.forms_postmortem import AlertTokenForm
from incidents.forms_test_alert import TestAlertForm
from incidents.services.alert_tokens import create_alert_token, revoke_alert_token
from incidents.services.alerts.test_alert import send_test_alert
from releases.models import RollbackRequest, RollbackStatus


def _system(request: AuthenticatedHttpRequest, slug: str) -> AISystem:
    return get_system_or_404(request.user, slug, Action.CHANGE)


def _render_page(
    request: AuthenticatedHttpRequest,
    system: AISystem,
    *,
    status: int = 200,
    form: AlertTokenForm | None = None,
    test_form: TestAlertForm | None = None,
    **extra: Any,
) -> HttpResponse:
    tokens = list(system.alert_tokens.select_related("created_by").order_by("-created_at", "-id"))
    context = {
        "system": system,
        "tokens": tokens,
        "active_count": sum(token.revoked_at is None for token in tokens),
        "form": form or AlertTokenForm(),
        "test_form": test_form or TestAlertForm(system=system),
        "alertmanager_url": request.build_absolute_uri(reverse("alertmanager-intake")),
        "generic_url": request.build_absolute_uri(reverse("alert-intake")),
        "errors": [],
        **extra,
    }
    return render(request, "incidents/alert_tokens.html", context, status=status)


@require_GET
def token_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    return _render_page(request, _system(request, slug))


@require_POST
def token_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = _system(request, slug)
    form = AlertTokenForm(request.POST)
    if form.is_valid():
        try:
            token, secret = create_alert_token(
                actor=request.user, system=system, name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            # Rendered here, not redirected to: a redirect would have to carry the secret.
            response = _render_page(request, system, status=201, created=token, secret=secret)
            add_never_cache_headers(response)
            return response
    return _render_page(request, system, status=400, form=form)


@require_http_methods(["GET", "POST"])
def token_revoke(request: AuthenticatedHttpRequest, slug: str, token_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes."""
    system = _system(request, slug)
    token = get_object_or_404(system.alert_tokens, pk=token_id)
    if request.method == "GET":
        return _render_page(request, system, confirming=token)
    try:
        revoke_alert_token(actor=request.user, token=token)
    except ValidationError as error:
        return _render_page(request, system, status=400, errors=error.messages)
    messages.success(
        request, f"{token.name} ({token.prefix}…) is revoked: alerts sent with it are refused."
    )
    return redirect("incidents:alert-tokens", slug=system.slug)


@require_POST
def test_alert_send(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Send a test alert through the intake; on to the incident it opened or joined."""
    system = _system(request, slug)
    form = TestAlertForm(request.POST, system=system)
    if form.is_valid():
        try:
            alert = send_test_alert(actor=request.user, system=system, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            if alert.incident is None:
                messages.success(request, "Test alert recorded; it opened no incident.")
                return redirect("incidents:alert-tokens", slug=system.slug)
            proposed = RollbackRequest.objects.filter(
                environment=alert.environment_id, status=RollbackStatus.PROPOSED
            ).exists()
            said = f"Test alert sent: on INC-{alert.incident_id}'s timeline, marked as a test."
            if proposed:
                said += " A rollback is proposed: a rollback owner confirms it here."
            messages.success(request, said)
            return redirect(alert.incident)
    return _render_page(request, system, status=400, test_form=form)

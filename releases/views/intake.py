"""The registry intake page of one AI system: MLflow's webhook secrets, the models the system
follows, and what arrived lately.

Who: the system's owners (Action.CHANGE), as on the alert-token page: which registry feeds a
system, and how it is wired, is theirs to manage. A role holder without it gets 403, anyone
who cannot see the system 404. Every write goes through releases.services.intake, which
asks again.

A new secret exists in one response, the one answering its creation (no-store): MLflow needs
it again to sign, so Failsafe keeps it encrypted, but never shows it again.
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
from releases.forms import ModelFollowForm, WebhookSecretForm, metric_lines
from releases.intake.prefill import first_environment
from releases.intake.signature import SIGNATURE_TOLERANCE_SECONDS
from releases.models import RegistryVersion, WebhookDelivery
from releases.services import intake

RECENT = 20  # deliveries and imports the page lists


def _system(request: AuthenticatedHttpRequest, slug: str) -> AISystem:
    return get_system_or_404(request.user, slug, Action.CHANGE)


def _render_page(
    request: AuthenticatedHttpRequest, system: AISystem, *, status: int = 200, **extra: Any
) -> HttpResponse:
    secrets = list(system.webhook_secrets.select_related("created_by"))
    follows = list(system.model_follows.select_related("created_by"))
    for follow in follows:
        follow.lines = metric_lines(follow.metric_criteria)  # type: ignore[attr-defined]
    first = first_environment(system)
    context = {
        "system": system,
        "secrets": secrets,
        "active_count": sum(s.revoked_at is None for s in secrets),
        "follows": follows,
        "secret_form": extra.pop("secret_form", None) or WebhookSecretForm(),
        "follow_form": extra.pop("follow_form", None) or ModelFollowForm(),
        "webhook_url": request.build_absolute_uri(reverse("mlflow-webhook", args=[system.slug])),
        "imports": list(
            RegistryVersion.objects.filter(system=system).select_related("release")[:RECENT]
        ),
        "deliveries": list(WebhookDelivery.objects.filter(system=system)[:RECENT]),
        "first_environment": first,
        "tolerance_minutes": SIGNATURE_TOLERANCE_SECONDS // 60,
        "errors": [],
        **extra,
    }
    return render(request, "releases/intake.html", context, status=status)


@require_GET
def intake_page(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    return _render_page(request, _system(request, slug))


@require_POST
def secret_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = _system(request, slug)
    form = WebhookSecretForm(request.POST)
    if form.is_valid():
        try:
            created, secret = intake.create_webhook_secret(
                actor=request.user, system=system, name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            # Rendered here, not redirected to: a redirect would have to carry the secret.
            response = _render_page(request, system, status=201, created=created, secret=secret)
            add_never_cache_headers(response)
            return response
    return _render_page(request, system, status=400, secret_form=form)


@require_http_methods(["GET", "POST"])
def secret_revoke(request: AuthenticatedHttpRequest, slug: str, secret_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes."""
    system = _system(request, slug)
    secret = get_object_or_404(system.webhook_secrets, pk=secret_id)
    if request.method == "GET":
        return _render_page(request, system, confirming=secret)
    try:
        intake.revoke_webhook_secret(actor=request.user, secret=secret)
    except ValidationError as error:
        return _render_page(request, system, status=400, errors=error.messages)
    messages.success(
        request, f"{secret.name} ({secret.prefix}…) is revoked: deliveries it signs are refused."
    )
    return redirect("releases:intake", slug=system.slug)


@require_POST
def follow_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = _system(request, slug)
    form = ModelFollowForm(request.POST)
    if form.is_valid():
        try:
            follow = intake.follow_model(
                actor=request.user,
                system=system,
                model_name=form.cleaned_data["model_name"],
                tracking_uri=form.cleaned_data["tracking_uri"],
                metric_criteria=form.cleaned_data["metric_criteria"],
                token=form.cleaned_data["token"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{system.name} follows {follow.model_name}.")
            return redirect("releases:intake", slug=system.slug)
    return _render_page(request, system, status=400, follow_form=form)


@require_POST
def follow_update(request: AuthenticatedHttpRequest, slug: str, follow_id: int) -> HttpResponse:
    system = _system(request, slug)
    follow = get_object_or_404(system.model_follows, pk=follow_id)
    form = ModelFollowForm(request.POST, editing=True, initial={"model_name": follow.model_name})
    if form.is_valid():
        try:
            intake.update_follow(
                actor=request.user,
                follow=follow,
                tracking_uri=form.cleaned_data["tracking_uri"],
                metric_criteria=form.cleaned_data["metric_criteria"],
                token=form.cleaned_data["token"] or None,  # empty: keep the stored one
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"The follow of {follow.model_name} is saved.")
            return redirect("releases:intake", slug=system.slug)
    return _render_page(request, system, status=400, editing=follow, edit_form=form)


@require_POST
def follow_delete(request: AuthenticatedHttpRequest, slug: str, follow_id: int) -> HttpResponse:
    system = _system(request, slug)
    follow = get_object_or_404(system.model_follows, pk=follow_id)
    intake.unfollow_model(actor=request.user, follow=follow)
    messages.success(request, f"{system.name} no longer follows {follow.model_name}.")
    return redirect("releases:intake", slug=system.slug)

"""Signing in and out: the login page, the provider's round trip, and a failure page that
says what went wrong instead of an error page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import LoginView, LogoutView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from governance.sso.backend import FAILURE_ATTRIBUTE
from governance.sso.forms import PASSWORD_LOGIN_OFF, PasswordSignInForm
from governance.sso.provider import ProviderError, discover

FAILED_STATUS = 502  # the provider, not the person, is usually what failed


def sign_in_options() -> dict[str, Any]:
    """What the login page offers; also given to the lockout page, which renders it."""
    return {
        "sso_enabled": settings.OIDC_ENABLED,
        "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        "password_login": settings.PASSWORD_LOGIN,
    }


class SignInView(LoginView):
    form_class = PasswordSignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context["form"]
        context |= sign_in_options()
        context["password_login_refused"] = form.is_bound and form.has_error(
            "__all__", PASSWORD_LOGIN_OFF
        )
        return context


def failure_page(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request,
        "registration/sign_in_failed.html",
        {"reason": reason, **sign_in_options()},
        status=FAILED_STATUS,
    )


class ProviderSignInView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, once its discovery document says it can."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)  # the endpoint is discovered per request, below

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discover(fresh=True).authorization_endpoint
        except ProviderError as error:
            return failure_page(request, str(error))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class ProviderCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a sign-in that fails gets its reason."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return super().get(request)

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, FAILURE_ATTRIBUTE, None)
        if reason is None and request.GET.get("error"):
            detail = request.GET.get("error_description") or request.GET["error"]
            reason = f"The identity provider did not sign you in: {detail[:300]}."
        if reason is None:
            reason = "This sign-in had expired or was already used. Start again."
        return failure_page(request, reason)


class SignOutView(LogoutView):
    """Ends the Failsafe session and, where the provider supports RP-initiated logout, the
    provider's session too: otherwise the next "Sign in with…" would let them straight back in."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.provider_logout_url = _provider_logout_url(request)  # needs the session's ID token
        return super().post(request, *args, **kwargs)

    def get_success_url(self) -> str:
        return self.provider_logout_url or super().get_success_url()


def _provider_logout_url(request: HttpRequest) -> str | None:
    id_token = request.session.get("oidc_id_token")
    if not settings.OIDC_ENABLED or not id_token:
        return None
    try:
        endpoint = discover().end_session_endpoint
    except ProviderError:
        return None  # the provider is down: the Failsafe session still ends
    if not endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

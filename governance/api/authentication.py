"""How the API knows who calls: HTTP Basic (under the sign-in lockout), API tokens, sessions."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import (
    BaseAuthentication,
    BasicAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from governance.api.throttling import FailedSignInLimit
from governance.audit.context import current_credential
from governance.lockout import lockout_message
from governance.models import ApiToken
from governance.permissions import limit_to_system
from governance.services import ApiTokenRefused, authenticate_api_token
from governance.tokens import act_with

BEARER_CHALLENGE = 'Bearer realm="api"'


class LockoutBasicAuthentication(BasicAuthentication):
    """django-axes refuses a locked-out username+address inside `authenticate()`, but it
    marks DRF's Request wrapper, which its middleware never sees: answer 429 here, as JSON,
    and clear the failures on a success as the login form does (AXES_RESET_ON_SUCCESS)."""

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        if "\x00" in userid or "\x00" in password:
            # No account has one (forms refuse it), and PostgreSQL refuses it in a query: the
            # lockout's own lookup raised DataError, a 500 to anyone. Wrong credentials, then,
            # answered before any query (nor counted: there is no username to count them by).
            raise AuthenticationFailed("Invalid username/password.")
        failures = FailedSignInLimit(request)
        failures.refuse_if_exceeded()  # before a password is hashed
        try:
            user, auth = super().authenticate_credentials(userid, password, request)
        except AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                wait = cool_off.total_seconds() if cool_off is not None else None
                raise Throttled(wait=wait, detail=lockout_message(cool_off)) from None
            failures.count_failure()
            raise
        # The rows directly: axes' reset() logs at INFO, and this runs on every API call.
        if getattr(request, "axes_ip_address", None):
            AccessAttempt.objects.filter(
                username=userid, ip_address=request.axes_ip_address
            ).delete()
        current_credential.set("HTTP Basic (password)")  # the audit trail tells it from a page
        return user, auth

    def authenticate_header(self, request: Request) -> str | None:
        # DRF challenges with the first class's scheme; a refused bearer token hears Bearer.
        if _bearer_parts(request):
            return f'{BEARER_CHALLENGE}, error="invalid_token"'
        return super().authenticate_header(request)


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer fsk_…`: the token's owner, limited to the token's system.

    For the rest of the request `governance.permissions` answers from the roles the owner
    holds on that system now, and no other system exists (lists leave them out, their
    objects are 404). Unknown, revoked and expired tokens get 401 with a JSON reason.
    Tokens authenticate the API only: the HTML pages take a signed-in session.
    """

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        secret = bearer_secret(request, shape="fsk_…")
        return token_holder(secret) if secret is not None else None

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE


def token_holder(secret: str) -> tuple[Any, ApiToken]:
    """(the owner, the token) of an API token's secret, from wherever a caller sends it: the
    rest of the request sees only the token's system, and the audit trail names the token.
    An unknown, revoked or expired token is a 401."""
    try:
        token = authenticate_api_token(secret=secret)
    except ApiTokenRefused as refused:
        raise AuthenticationFailed(str(refused)) from None
    limit_to_system(token.system_id)
    act_with(token, "API token")
    return token.owner, token


def _bearer_parts(request: Request) -> list[bytes]:
    parts = get_authorization_header(request).split()
    return parts if parts and parts[0].lower() == b"bearer" else []


def bearer_secret(request: Request, *, shape: str) -> str | None:
    """The secret of `Authorization: Bearer <secret>`; None when the request sends no bearer
    token (another scheme may then answer). `shape` names the token in the error."""
    parts = _bearer_parts(request)
    if not parts:
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(f"Send exactly one token: Authorization: Bearer {shape}.")
    return parts[1].decode(errors="replace")


class LockoutBasicScheme(BasicScheme):
    """The schema documents it as the HTTP Basic it is (drf-spectacular finds it by class)."""

    target_class = "governance.api.authentication.LockoutBasicAuthentication"
    priority = 0


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents API tokens (drf-spectacular finds it by target class)."""

    target_class = "governance.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fsk_…",
            "description": (
                "A personal API token (fsk_…), created on the API tokens page. It acts as "
                "you, with the roles you hold on its one AI system at the time of each "
                "request; other systems do not exist for it (404, left out of lists). "
                "Unknown, revoked and expired tokens get 401."
            ),
        }

"""HTTP Basic for the API, under the same sign-in lockout as the login form."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from drf_spectacular.authentication import BasicScheme
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from governance.lockout import lockout_message


class LockoutBasicAuthentication(BasicAuthentication):
    """django-axes refuses a locked-out username+address inside `authenticate()`, but it
    marks DRF's Request wrapper, which its middleware never sees: answer 429 here, as JSON,
    and clear the failures on a success as the login form does (AXES_RESET_ON_SUCCESS)."""

    def authenticate_credentials(
        self, userid: str, password: str, request: Any = None
    ) -> tuple[Any, None]:
        try:
            user, auth = super().authenticate_credentials(userid, password, request)
        except AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                wait = cool_off.total_seconds() if cool_off is not None else None
                raise Throttled(wait=wait, detail=lockout_message(cool_off)) from None
            raise
        # The rows directly: axes' reset() logs at INFO, and this runs on every API call.
        if getattr(request, "axes_ip_address", None):
            AccessAttempt.objects.filter(
                username=userid, ip_address=request.axes_ip_address
            ).delete()
        return user, auth


class LockoutBasicScheme(BasicScheme):
    """The schema documents it as the HTTP Basic it is (drf-spectacular finds it by class)."""

    target_class = "governance.api.authentication.LockoutBasicAuthentication"
    priority = 0

"""What a locked-out sign-in sees: the login page with the reason, never a bare 403.

django-axes counts the failures and decides; this only answers (AXES_LOCKOUT_CALLABLE).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def lockout_message(cool_off: timedelta | None) -> str:
    if cool_off is None:
        return (
            "Too many failed sign-ins for this username from your address. "
            "Ask an administrator to unlock it."
        )
    minutes = max(1, round(cool_off.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed sign-ins for this username from your address. "
        f"Try again in {minutes} {unit}, or ask an administrator to unlock it."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    cool_off = get_cool_off(request)
    response = render(
        request,
        "registration/login.html",
        {
            "lockout_message": lockout_message(cool_off),
            "username": (credentials or {}).get("username", ""),
            "next": request.POST.get("next", request.GET.get("next", "")),
        },
        status=LOCKED_OUT_STATUS,
    )
    if cool_off is not None:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response

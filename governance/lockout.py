"""What a locked-out sign-in sees: the login page with the reason, never a bare 403; and
which address a sign-in came from.

django-axes counts the failures and decides; this answers (AXES_LOCKOUT_CALLABLE) and names
the address (AXES_CLIENT_IP_CALLABLE).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.sso.views import sign_in_options

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
            **sign_in_options(),
        },
        status=LOCKED_OUT_STATUS,
    )
    if cool_off is not None:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def client_address(request: HttpRequest) -> str | None:
    """The address a sign-in came from, whose failures count together.

    Directly, the peer's. Behind TRUSTED_PROXY_COUNT reverse proxies that each append the
    address they saw to X-Forwarded-For, the entry the outermost of them appended: entries
    before it are the client's own to write, so they are never believed. Without that, every
    sign-in would come from the proxy, and five wrong passwords would lock the username out
    for everyone.
    """
    peer = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < proxies:
        return peer  # it did not come through the proxies (a probe on the internal network)
    try:
        return str(ipaddress.ip_address(hops[-proxies]))
    except ValueError:
        return peer  # a proxy that appends no address is misconfigured: count it as one


def password_attempts_only(request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
    """AXES_WHITELIST_CALLABLE: a sign-in without a username is the identity provider's
    callback, whose passwords the provider checks and locks out itself. Counted here, its
    failures (a provider misconfigured or down) would lock every single sign-on from an
    address out."""
    return not (credentials or {}).get("username")

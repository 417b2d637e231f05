"""Request types for views behind authentication (django-htmx adds `request.htmx`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails
    from rest_framework.request import Request


class AuthenticatedHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


def api_actor(request: Request) -> User:
    """The user behind an API request; IsAuthenticated has already refused anonymous ones."""
    return cast("User", request.user)

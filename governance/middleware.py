"""Request ids for the audit trail and the logs, and authentication on every page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse

from governance.audit.context import current_credential, current_request_id
from governance.logs import current_request
from governance.permissions import permissions_read_once

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Take a sane X-Request-ID from the proxy or make one; audit events and log lines
    carry it, and log lines the request's user (governance.logs). The request's permission
    answers are read once (governance.permissions)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        request_token = current_request.set(request)
        credential = current_credential.set("")  # a session, until an authentication says else
        try:
            with permissions_read_once():
                response = self.get_response(request)
        finally:
            current_credential.reset(credential)
            current_request.reset(request_token)
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Pages redirect to the login form; the API answers 401/403 JSON itself (DRF)."""

    def process_view(self, request, view_func, view_args, view_kwargs):  # type: ignore[no-untyped-def]
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

"""The answer to an error nobody handled: 503 while the database is unreachable, else 500.

Django's own 500 handler turns every uncaught exception into "Something went wrong". When
PostgreSQL is restarting or out of reach (a failover, a maintenance restart), every request
that touches it raises OperationalError or InterfaceError: that is not a bug of the page
but a temporary outage, and the honest answer is 503 Service Unavailable with Retry-After,
so browsers show "try again shortly", API clients and load balancers retry, and alerting on
500s stays about bugs. The exception is still logged (django.request) with its traceback.

The same holds when every connection of the process's pool stayed busy for DB_POOL_TIMEOUT
(psycopg_pool.PoolTimeout, an OperationalError): a burst beyond what the database may serve
at once is told to come back, not failed.

And input is never a 5xx. What a request sends that cannot be used (JSON nested too deep,
NUL, a number or date out of range, text the database cannot store) is the caller's error:
400, as JSON on the API and as the 400 page elsewhere, and a body over
DATA_UPLOAD_MAX_MEMORY_SIZE on the API is 413 JSON. `refused_input` is the one list of what
counts as such an error: the API's exception handler (governance/api/errors.py) and
`RefuseUnusableInput` below both ask it. The parsers and forms refuse most of it by field
first, with a message that names it; this is the net under them, logged with its traceback
(WARNING) so that an input it catches can get a field message of its own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import server_error as django_server_error
from psycopg_pool import PoolTimeout

RETRY_AFTER_SECONDS = 5  # a PostgreSQL restart or failover takes seconds


@requires_csrf_token
def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: called inside the `except` of Django's exception handling, so the
    exception being handled is sys.exc_info()'s."""
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return django_server_error(request, template_name)
    if request.path_info.startswith("/api/"):
        busy = isinstance(error.__cause__, PoolTimeout)
        detail = "The database is busy." if busy else "The database is unavailable for a moment."
        response: HttpResponse = JsonResponse(
            {"detail": f"{detail} Try again shortly."}, status=503
        )
    else:
        # Rendered without a request, like the 500 page: no context processor may query.
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


logger = logging.getLogger("failsafe.input")


def refused_input(error: BaseException) -> str | None:
    """Why `error`, raised while handling a request, is the input's fault; None if it is not.

    DataError is PostgreSQL's class 22 (data exception): a value it cannot store or compare,
    never an outage or a bug of a statement. ValueError (UnicodeError among them) and
    OverflowError are what Python raises reading a date, a number or text out of range;
    RecursionError, what walking input nested too deep raises.
    """
    if isinstance(error, DataError):
        return "A value is not one the database can store (out of range, or unusable text)."
    if isinstance(error, RecursionError):
        return "The input nests too deep."
    if isinstance(error, UnicodeError):
        return "The input holds text that is not valid Unicode."
    if isinstance(error, ValueError | OverflowError):
        return "A value could not be read (a date, a number or a text out of range)."
    return None


def too_large_detail() -> str:
    return f"The body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes accepted."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (Django's answer to a SuspiciousOperation): JSON on the API, and 413 for a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE there; the 400 page elsewhere."""
    if request.path_info.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": too_large_detail()}, status=413)
        return JsonResponse({"detail": "The request could not be read."}, status=400)
    return _bad_request_page()


def _bad_request_page() -> HttpResponse:
    # Rendered without a request, like the 500 page: no context processor may query (a
    # DataError may have left nothing usable of the request's transaction).
    return HttpResponse(loader.get_template("400.html").render(), status=400)


class RefuseUnusableInput:
    """Pages: a NUL in a form's data is refused with the 400 page before the view runs
    (PostgreSQL stores no NUL, and a choice or a lookup field would send it to a query); an
    exception `refused_input` names, raised by a view (a NUL in a query string a page reads
    with a lookup), is the 400 page too. A query is left to the page: its filter form may
    name the field it cannot use, as the dashboard's does. The API's views parse and answer
    for themselves (governance/api/parsers.py and errors.py); should one let such an
    exception through, it is a 400 JSON here.

    After the login middleware: an anonymous visitor is sent to sign in first, whatever the
    request holds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "POST" or request.path_info.startswith("/api/"):
            return None
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.POST.lists()
        ):
            logger.warning("Refused a NUL in a form: %s", request.path_info)
            return _bad_request_page()
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = refused_input(exception)
        if reason is None:
            return None
        logger.warning("Refused input: %s", request.path_info, exc_info=exception)
        if connection.in_atomic_block:
            # A DataError left the transaction unusable: whatever encloses the request (a
            # test's savepoint) rolls back, as DRF's handler has its own.
            transaction.set_rollback(True)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": reason}, status=400)
        return _bad_request_page()

"""The answer to an error nobody handled: 503 while the database is unreachable, else 500.

Django's own 500 handler turns every uncaught exception into "Something went wrong". When
PostgreSQL is restarting or out of reach (a failover, a maintenance restart), every request
that touches it raises OperationalError or InterfaceError: that is not a bug of the page
but a temporary outage, and the honest answer is 503 Service Unavailable with Retry-After,
so browsers show "try again shortly", API clients and load balancers retry, and alerting on
500s stays about bugs. The exception is still logged (django.request) with its traceback.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 5  # a PostgreSQL restart or failover takes seconds


@requires_csrf_token
def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: called inside the `except` of Django's exception handling, so the
    exception being handled is sys.exc_info()'s."""
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return django_server_error(request, template_name)
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": "The database is unavailable for a moment. Try again shortly."},
            status=503,
        )
    else:
        # Rendered without a request, like the 500 page: no context processor may query.
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response

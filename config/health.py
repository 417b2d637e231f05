"""Liveness and readiness probes for load balancers and container orchestrators.

`/healthz` answers as long as the process serves requests; it touches nothing else, so a
database outage does not make the orchestrator restart healthy web processes.
`/readyz` says whether this process can do its work: the database answers and the
Celery broker accepts a connection. Both are open to anonymous callers and exempt from
the HTTPS redirect (SECURE_REDIRECT_EXEMPT), and say nothing about the failure beyond
the name of the check and the exception class; the details go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Seconds to wait for the broker; a probe must answer well within the prober's own timeout.
BROKER_TIMEOUT = 2.0


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    from config.celery import app

    # The URL from Django's settings (not Celery's cached configuration), with Celery's
    # transport options, so the probe connects exactly as the workers and publishers do.
    with app.connection_for_write(
        url=settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT,
        transport_options={
            "socket_timeout": BROKER_TIMEOUT,
            "socket_connect_timeout": BROKER_TIMEOUT,
        },
    ) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
        )


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
}


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readiness check %r failed", name, exc_info=True)
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    failing = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, object] = {"status": "unavailable" if failing else "ok", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


# Included from config.urls at the root. No trailing slash: the paths match
# SECURE_REDIRECT_EXEMPT (^healthz$, ^readyz$), and probes do not follow redirects.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

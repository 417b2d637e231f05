"""Liveness and readiness probes for load balancers and container orchestrators.

`/healthz` answers as long as the process serves requests; it touches nothing else, so a
database outage does not make the orchestrator restart healthy web processes.
`/readyz` says whether this process can do its work: the database answers, the Celery
broker accepts a connection, and at least one Celery worker answers a ping (a rollback
pressed now would run). Both are open to anonymous callers and exempt from the HTTPS
redirect (SECURE_REDIRECT_EXEMPT), and say nothing about the failure beyond the name of the
check and the exception class; the details go to the log.

The probe is bounded: the broker gets BROKER_TIMEOUT, the workers WORKER_TIMEOUT, and the
worker check is skipped when the broker is down or hung (it could only time out), so
/readyz answers within 2 s whatever the broker does, plus the database's connect_timeout
if the database hangs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

if TYPE_CHECKING:
    from kombu import Connection

logger = logging.getLogger(__name__)

# Seconds to wait for the broker and for the first worker's pong; a probe must answer well
# within the prober's own timeout, and together within 2 s.
BROKER_TIMEOUT = 1.0
WORKER_TIMEOUT = 0.8


class NoWorkerAnswered(Exception):
    """No Celery worker answered the ping within WORKER_TIMEOUT."""


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker_connection() -> Connection:
    from config.celery import app

    # The URL from Django's settings (not Celery's cached configuration), with Celery's
    # transport options, so the probe connects exactly as the workers and publishers do.
    return app.connection_for_write(
        url=settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT,
        transport_options={
            "socket_timeout": BROKER_TIMEOUT,
            "socket_connect_timeout": BROKER_TIMEOUT,
        },
    )


def _check_broker() -> None:
    with _broker_connection() as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
        )


def _check_worker() -> None:
    from config.celery import app

    # limit=1: the first pong is enough, so a healthy cluster answers in milliseconds and
    # only a workerless one waits the whole WORKER_TIMEOUT.
    with _broker_connection() as conn:
        replies = app.control.ping(timeout=WORKER_TIMEOUT, limit=1, connection=conn)
    if not replies:
        raise NoWorkerAnswered


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "worker": _check_worker,
}
# A check that cannot pass while another fails is skipped, not waited for.
REQUIRES = {"worker": "broker"}


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
        required = REQUIRES.get(name)
        if required is not None and checks.get(required) != "ok":
            checks[name] = f"skipped: {required} unavailable"
            continue
        try:
            check()
        except Exception as exc:
            logger.warning("readiness check %r failed", name, exc_info=True)
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    failing = [name for name, result in checks.items() if result.startswith("error")]
    unavailable = any(result != "ok" for result in checks.values())
    body: dict[str, object] = {"status": "unavailable" if unavailable else "ok", "checks": checks}
    if unavailable:
        body["failing"] = failing
    return JsonResponse(body, status=503 if unavailable else 200)


# Included from config.urls at the root. No trailing slash: the paths match
# SECURE_REDIRECT_EXEMPT (^healthz$, ^readyz$), and probes do not follow redirects.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

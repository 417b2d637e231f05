"""Liveness, readiness and status probes, and the war room's sign that background work stalls.

- `/healthz` answers as long as the process serves requests; it touches nothing else, so a
  database outage does not make the orchestrator restart healthy web processes.
- `/readyz`, for the load balancer, says whether this web process can serve pages: the
  database answers. Only that: a broker or worker outage must not take every web replica
  out of rotation in the middle of an incident, when the war room is needed most.
- `/statusz`, for monitoring, says whether the work behind the pages gets done: the
  database, the broker accepts a connection, a Celery worker answers a ping, the audit
  sealer keeps up (beat and a worker both run it), no rollback waits in the queue
  unstarted, and a beat ticks (the active one of the pair, config/beat.py: its name and the
  age of its last tick come with the answer). 503 when any of them fails.

All three are open to anonymous callers and exempt from the HTTPS redirect
(SECURE_REDIRECT_EXEMPT), and say nothing about a failure beyond the name of the check and
a class or a figure; the details go to the log.

The status probe is bounded: the broker gets BROKER_TIMEOUT, the workers WORKER_TIMEOUT,
beat's Redis config.beat.PROBE_TIMEOUT, and the worker check (and the beat check, when beat
shares the broker's Redis) is skipped when the broker is down or hung (it could only time
out), so /statusz answers within 2 s whatever the broker does, plus the database's
connect_timeout if the database hangs.

`background_trouble` is what the war room's banner says when rollbacks would be queued and
not run: read from the database and this process's hand-over queue only (never the broker,
which may hang), at most every few seconds per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config import handoff
from config.redis_urls import redis_url_of_broker
from releases.models import RollbackStatus

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


class Behind(Exception):
    """Work that should have been done by now is not (the message says how far behind)."""


# An audit event unsealed for longer than this, or a rollback requested and unstarted for
# longer than that, means beat, a worker or the broker is not doing its part.
SEALER_LAG_LIMIT = timedelta(minutes=2)
QUEUE_LAG_LIMIT = timedelta(seconds=30)
BROKER_WAIT_LIMIT = 5.0  # seconds a task of this process may wait for the broker
TROUBLE_TTL = 5.0  # seconds a process reuses what it found


def _lags() -> tuple[timedelta | None, timedelta | None]:
    """How long the oldest unsealed audit event and the oldest unstarted rollback waited."""
    with connection.cursor() as cursor:
        cursor.execute(_LAGS_SQL, {"requested": RollbackStatus.REQUESTED})
        sealed_lag, queue_lag = cursor.fetchone()
    return sealed_lag, queue_lag


_LAGS_SQL = """
SELECT now() - (SELECT min(occurred_at) FROM governance_auditevent WHERE seq IS NULL),
       now() - (SELECT min(COALESCE(enqueued_at, requested_at)) FROM releases_rollbackrequest
                WHERE status = %(requested)s AND started_at IS NULL)
"""


def _check_sealer() -> None:
    sealed_lag, _ = _lags()
    if sealed_lag is not None and sealed_lag > SEALER_LAG_LIMIT:
        raise Behind(f"{sealed_lag.total_seconds():.0f} s behind")


def _check_queue() -> None:
    _, queue_lag = _lags()
    if queue_lag is not None and queue_lag > QUEUE_LAG_LIMIT:
        raise Behind(f"a rollback waits {queue_lag.total_seconds():.0f} s")


class NoBeat(Exception):
    """No beat has ever ticked on this Redis."""


def _check_beat() -> dict[str, object]:
    from config import beat

    tick = beat.last_tick()
    if tick is None:
        raise NoBeat
    if tick.seconds_ago > beat.stall_limit():
        raise Behind(f"no tick for {tick.seconds_ago:.0f} s")
    return {"holder": tick.holder, "last_tick_seconds_ago": round(tick.seconds_ago, 1)}


# A check returns None, or what it found for the body (under its own name) when it passes.
Check = Callable[[], dict[str, object] | None]
READINESS: dict[str, Check] = {"database": _check_database}
STATUS: dict[str, Check] = {
    "database": _check_database,
    "broker": _check_broker,
    "worker": _check_worker,
    "sealer": _check_sealer,
    "rollback_queue": _check_queue,
    "beat": _check_beat,
}
# A check that cannot pass while another fails is skipped, not waited for.
REQUIRES = {"worker": "broker", "sealer": "database", "rollback_queue": "database"}


def _requirement(name: str) -> str | None:
    if name == "beat":  # on the broker's own Redis, a broker that hangs would hang it too
        broker_redis = redis_url_of_broker(settings.CELERY_BROKER_URL)
        shared = bool(broker_redis) and broker_redis == settings.CELERY_REDBEAT_REDIS_URL
        return "broker" if shared else None
    return REQUIRES.get(name)


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    return _probe(READINESS)


@login_not_required
@never_cache
@require_safe
def statusz(request: HttpRequest) -> JsonResponse:
    return _probe(STATUS)


def _probe(checks_to_run: dict[str, Check]) -> JsonResponse:
    checks: dict[str, str] = {}
    found: dict[str, object] = {}
    for name, check in checks_to_run.items():
        required = _requirement(name)
        if required is not None and checks.get(required) != "ok":
            checks[name] = f"skipped: {required} unavailable"
            continue
        try:
            details = check()
        except Behind as behind:
            logger.warning("status check %r: %s", name, behind)
            checks[name] = f"behind: {behind}"
        except Exception as exc:
            logger.warning("readiness check %r failed", name, exc_info=True)
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
            if details is not None:
                found[name] = details
    failing = [name for name, result in checks.items() if not result.startswith(("ok", "skip"))]
    unavailable = any(result != "ok" for result in checks.values())
    body: dict[str, object] = {"status": "unavailable" if unavailable else "ok", "checks": checks}
    body.update(found)
    if unavailable:
        body["failing"] = failing
    return JsonResponse(body, status=503 if unavailable else 200)


_found: tuple[float, str | None] = (0.0, None)


def background_trouble() -> str | None:
    """Why a rollback pressed now would wait in the queue, if it would: a sentence for the
    war room's banner, else None. Reused for TROUBLE_TTL seconds by this process."""
    global _found
    checked_at, trouble = _found
    if time.monotonic() - checked_at < TROUBLE_TTL:
        return trouble
    trouble = _trouble()
    _found = (time.monotonic(), trouble)
    return trouble


def _trouble() -> str | None:
    waited = handoff.waiting_for()
    if waited > BROKER_WAIT_LIMIT:
        return (
            f"The task broker has not taken work for {waited:.0f} s: rollbacks are queued, "
            "not running. They run as soon as it answers."
        )
    try:
        sealed_lag, queue_lag = _lags()
    except DatabaseError:
        return None  # the page itself will say the database is gone
    if queue_lag is not None and queue_lag > QUEUE_LAG_LIMIT:
        return (
            f"Rollbacks are queued, not running: one has waited {queue_lag.total_seconds():.0f} "
            "s and no worker has taken it."
        )
    if sealed_lag is not None and sealed_lag > SEALER_LAG_LIMIT:
        minutes = sealed_lag.total_seconds() / 60
        return (
            f"Failsafe's background work is stalled (the audit trail is {minutes:.0f} min "
            "behind): a rollback pressed now may wait in the queue."
        )
    return None


# Included from config.urls at the root. No trailing slash: the paths match
# SECURE_REDIRECT_EXEMPT (^healthz$, ^readyz$, ^statusz$), and probes do not follow redirects.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("statusz", statusz, name="statusz"),
]

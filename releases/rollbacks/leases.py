"""A run's lease on its request, on the database's clock: renewed from a side thread while
the run works, held off between retries, left to run out when a worker dies (the sweep then
takes the run over). Also this process's pools of side threads."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now

from governance import audit
from releases.models import RollbackRequest, RollbackStatus

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def lease_kept(request_id: int) -> Iterator[None]:
    """Renew the run's lease from a side thread while the run works. The lease can then be
    short: a worker that dies stops renewing, and the sweep takes its run over within one
    lease, however long a live run's backend takes."""
    done = threading.Event()
    keeping = lease_threads("rollback-lease", 64).submit(_renew_lease, request_id, done)
    try:
        yield
    finally:
        done.set()
        keeping.result()


def lease_threads(name: str, most: int) -> ThreadPoolExecutor:
    """This process's threads for one kind of side work: kept for the process's life, since
    starting a thread per run cost the run a quarter of a millisecond before its backend
    call. Keyed by process, as the backends' HTTP clients: a forked pool process starts its
    own. The lease keepers: one per run, more only where a process runs rollbacks side by
    side; the status read: one."""
    return _threads_of(os.getpid(), name, most)


@functools.cache
def _threads_of(pid: int, name: str, most: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=most, thread_name_prefix=name)


def _renew_lease(request_id: int, done: threading.Event) -> None:
    lease = settings.ROLLBACK_LEASE_SECONDS
    # A run still working after the limit is presumed hung: its lease is left to run out, and
    # the sweep may start another run (the idempotency key keeps its call harmless).
    give_up = time.monotonic() + settings.ROLLBACK_RUN_LIMIT_SECONDS
    try:
        while not done.wait(lease / 3) and time.monotonic() < give_up:
            _renew(request_id, lease)
    except Exception:  # an unrenewed lease runs out: the sweep takes over, as after a crash
        logger.exception("rollback %s: its lease was not renewed", request_id)
    finally:
        connections.close_all()  # this thread's own connection, if it opened one


@transaction.atomic
def _renew(request_id: int, lease: int) -> None:
    # Never waits for the row: whoever holds it is recording the run's outcome (which ends
    # the lease anyway), and a keeper stuck behind it would hold up the run's end.
    running = RollbackRequest.objects.select_for_update(no_key=True, skip_locked=True).filter(
        pk=request_id, status=RollbackStatus.RUNNING
    )
    if running.values_list("pk", flat=True).first() is not None:
        running.update(lease_until=_lease(lease))


@transaction.atomic
def hold_for_retry(*, request_id: int, seconds: float, error: str) -> None:
    """Between attempts: keep the sweep away until the retry is due, and say what happened,
    in the audit trail too: the war room shows the error ("Retrying after: …"), and a page
    changes only with an event on its system's chain (governance/pagecache.py). One
    conditional update: a run that ended meanwhile is left as it ended, and nothing said."""
    held = RollbackRequest.objects.filter(pk=request_id, status=RollbackStatus.RUNNING).update(
        lease_until=_lease(seconds), error=error[:4000]
    )
    if not held:
        return
    request = RollbackRequest.objects.select_related("environment__system").get(pk=request_id)
    audit.record_event(
        actor=None,
        action="rollback.retry_scheduled",
        obj=request,
        system=request.environment.system,
        after={"error": request.error, "attempts": request.attempts, "retry_in": round(seconds, 1)},
    )


def _lease(seconds: float) -> CombinedExpression:
    """A lease ending `seconds` from now by the database's clock: every worker and the sweep
    compare leases on that one clock, so a worker whose own clock is off cannot take over
    a live run (nor hold a dead one longer)."""
    return Now() + Value(timedelta(seconds=seconds))

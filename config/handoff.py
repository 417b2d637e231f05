"""Tasks reach the broker from a thread of the process, never from the request that made them.

A request that schedules work (a ROLL BACK NOW press, an alert that trips a trigger, a
promotion) must answer whatever the broker does: dead (the connection is refused), hung (a
wedged or partitioned Redis accepts and never answers) or slow. Bounding the publish would
still cost every request its bound during an outage, once per task it sends. So a request
only puts the task on this process's queue once its transaction has committed, and one
thread per process sends it: at once while the broker answers, and through an outage by
trying again with backoff (each try bounded, so a hung connection is given up and made
anew) until the broker takes it.

What must never be lost does not rest on this queue alone: a rollback request is a row,
and beat's sweep re-sends any request nobody picked up, also when this process died with
the task still waiting here. Delivery is at least once: a publish that timed out may still
reach a broker that resumes, so a task may arrive twice; the tasks sent this way are
idempotent (a rollback's claim, a rollout step's status, a notice at most repeated).
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kombu.exceptions import EncodeError

logger = logging.getLogger(__name__)

# Each try: connecting, the broker's first answer and the publish itself. A hung broker
# costs the sending thread this long per try, never a request.
TRY_TIMEOUT_SECONDS = 2.0
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MOST_SECONDS = 2.0
# A task still unsent after this long is dropped (said in the log): by then the sweep has
# re-sent what must not be lost, and a notice that late would mislead.
PATIENCE_SECONDS = 900.0
MOST_WAITING = 10_000  # tasks waiting in one process; beyond it the newest are dropped
EXIT_WAIT_SECONDS = 2.0  # a process that exits gives its waiting tasks this long


@dataclass
class _Task:
    task: Any  # a Celery task
    args: tuple[Any, ...]
    options: dict[str, Any]
    label: str  # what the log calls it: "rollback 12", "rollback 12: requested notices"
    # The sender's context (the request id of the press), so the task carries it as if the
    # request had sent it itself (config/celery.py's before_task_publish).
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    queued_at: float = field(default_factory=time.monotonic)


def send(task: Any, args: tuple[Any, ...], *, label: str, **options: Any) -> None:
    """Send `task(*args)` to the broker with apply_async `options` (queue, countdown), soon,
    from this process's sending thread. Returns at once; never raises at the caller.

    Call it after the transaction that made the work has committed (`on_commit`). With
    `task_always_eager` (tests that run tasks in place) the task runs here and now.
    """
    if task.app.conf.task_always_eager:
        _publish_here(task, args, options, label)
        return
    _sender().put(_Task(task, args, options, label))


def wait_until_sent(timeout: float) -> bool:
    """Block until every task this process handed over has reached the broker (or was
    dropped), at most `timeout` seconds. For tests, benchmarks and exiting processes."""
    sender = _senders.get(os.getpid())
    return sender is None or sender.drained(timeout)


def waiting_for() -> float:
    """How long the oldest task this process handed over has waited for the broker (0: none
    waits): the war room's sign that the broker does not take work (config.health)."""
    sender = _senders.get(os.getpid())
    return sender.waiting_for() if sender is not None else 0.0


def _publish_here(task: Any, args: tuple[Any, ...], options: dict[str, Any], label: str) -> None:
    try:
        task.apply_async(args, retry=False, **options)
    except Exception:  # kombu raises several kinds; all mean "not sent now"
        logger.warning("%s not sent (broker unavailable)", label, exc_info=True)


class _Sender:
    """One per process: a queue and the thread that empties it into the broker."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._waiting: collections.deque[_Task] = collections.deque()
        self._unsent = 0  # waiting, plus the one being sent
        self._changed = threading.Condition()
        self._connection: Any = None
        thread = threading.Thread(target=self._run, name="failsafe-broker-handoff", daemon=True)
        thread.start()

    def put(self, item: _Task) -> None:
        with self._changed:
            if len(self._waiting) >= MOST_WAITING:
                logger.error("%s dropped: %d tasks already wait for the broker", item.label,
                             MOST_WAITING)  # fmt: skip
                return
            self._waiting.append(item)
            self._unsent += 1
            self._changed.notify_all()
        # Let the sending thread take the interpreter now rather than after the switch
        # interval (5 ms): on a healthy broker the task leaves as soon as it did in-line.
        time.sleep(0)

    def waiting_for(self) -> float:
        """How long the oldest task not yet sent has waited (0: none waits)."""
        with self._changed:
            return time.monotonic() - self._waiting[0].queued_at if self._waiting else 0.0

    def drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._unsent:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _run(self) -> None:
        failures = 0
        while True:
            with self._changed:
                while not self._waiting:
                    self._changed.wait()
                item = self._waiting[0]
            if time.monotonic() - item.queued_at > PATIENCE_SECONDS:
                logger.error("%s dropped: the broker did not take it for %.0f s", item.label,
                             PATIENCE_SECONDS)  # fmt: skip
                self._done()
                continue
            try:
                item.context.run(
                    item.task.apply_async,
                    item.args,
                    connection=self._connect(),
                    retry=False,
                    **item.options,
                )
            except (TypeError, EncodeError):  # the task's arguments: no broker will take it
                logger.exception("%s dropped: it cannot be sent", item.label)
                self._done()
                continue
            except Exception as error:  # refused, timed out, reset: all mean "not now"
                self._disconnect()
                failures += 1
                if failures == 1:  # once an outage, not once a try
                    logger.warning("%s not sent yet (broker unavailable: %r); trying again",
                                   item.label, error)  # fmt: skip
                time.sleep(min(BACKOFF_MOST_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1)))
                continue
            if failures:
                logger.warning("the broker takes tasks again (after %d tries)", failures)
            failures = 0
            self._done()

    def _done(self) -> None:
        with self._changed:
            self._waiting.popleft()
            self._unsent -= 1
            self._changed.notify_all()

    def _connect(self) -> Any:
        if self._connection is None:
            # A connection of its own, every socket operation bounded: the pool's
            # connections (and the worker's) keep Celery's defaults.
            self._connection = self._app.connection_for_write(
                connect_timeout=TRY_TIMEOUT_SECONDS,
                transport_options={
                    "socket_timeout": TRY_TIMEOUT_SECONDS,  # Redis
                    "socket_connect_timeout": TRY_TIMEOUT_SECONDS,
                    "read_timeout": TRY_TIMEOUT_SECONDS,  # AMQP
                    "write_timeout": TRY_TIMEOUT_SECONDS,
                    "max_retries": 0,  # kombu would otherwise reconnect for minutes
                },
            )
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken connection may fail again; it is gone anyway
                logger.debug("closing the broker connection failed", exc_info=True)


_senders: dict[int, _Sender] = {}
_senders_lock = threading.Lock()


def _sender() -> _Sender:
    # Per process id: a forked process (a gunicorn or Celery pool child) has no thread of
    # its parent's, so it starts its own.
    pid = os.getpid()
    sender = _senders.get(pid)
    if sender is None:
        with _senders_lock:
            sender = _senders.get(pid)
            if sender is None:
                from config.celery import app

                sender = _senders[pid] = _Sender(app)
    return sender


@atexit.register
def _flush_at_exit() -> None:
    if not wait_until_sent(EXIT_WAIT_SECONDS):
        logger.warning("exiting with tasks not sent; the sweep re-sends rollbacks")

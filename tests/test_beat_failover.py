"""Two real `celery beat` processes on one Redis: one schedules, the other stands by. While
both run, every tick is sent once; when the active one is killed (SIGKILL, no goodbye), the
standby takes the lock over within its timeout and sealing and the rollback sweep go on.

A private Redis is the broker and beat's store, a real worker runs the tasks on the test
database, and the intervals are shortened through the settings' environment variables.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from redis import Redis

from config import beat
from config.embedded import EmbeddedRedis
from governance.models import AuditCheckpoint, AuditEvent
from releases import rollbacks
from releases.models import RollbackRequest, RollbackStatus
from tests.conftest import start_worker, stop_worker, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_TIMEOUT = 4  # seconds: REDBEAT_LOCK_TIMEOUT
MAX_INTERVAL = 1  # seconds: BEAT_MAX_INTERVAL, the standby's retry period
TICK = 1  # seconds between checkpoints (AUDIT_CHECKPOINT_SECONDS) and sweeps
MARGIN = 8  # seconds for the worker to run the first tasks of the new holder, under load
# No worker takes this queue: the rollback stays lost, and every sweep sends it again.
LOST_QUEUE = "beat-failover-lost"
TICKER = "redbeat::ticker"


def wait_for(what: str, condition: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def start_beat(log: Path, broker: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker,  # beat's lock and schedule default to the same Redis
        REDBEAT_LOCK_TIMEOUT=str(LOCK_TIMEOUT),
        BEAT_MAX_INTERVAL=str(MAX_INTERVAL),
        AUDIT_CHECKPOINT_SECONDS=str(TICK),
        ROLLBACK_SWEEP_SECONDS=str(TICK),
        PYTHONUNBUFFERED="1",
    )
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=15)


@pytest.fixture
def private_redis(tmp_path):
    redis = EmbeddedRedis.start(tmp_path / "redis", persist=False)
    yield redis
    redis.stop()


@pytest.fixture
def lost_rollback(settings, successor, production, rollback_owner):
    """A requested rollback whose message went where no worker listens."""
    settings.ROLLBACK_QUEUE = LOST_QUEUE
    request, _ = rollbacks.request_rollback(
        actor=rollback_owner, environment=production, reason="Review rate tripled"
    )
    RollbackRequest.objects.filter(pk=request.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=1)
    )
    return request


def test_the_standby_beat_takes_over_when_the_active_one_is_killed(
    client, private_redis, artifacts_dir, lost_rollback
):
    broker = private_redis.url()
    store = Redis(unix_socket_path=str(private_redis.socket), decode_responses=True)

    def holder_pid() -> int | None:
        holder = store.hget(TICKER, "holder")
        return int(holder.rsplit(" ", 1)[1]) if holder else None

    def checkpoints() -> int:
        return AuditCheckpoint.objects.count()

    def swept_at() -> Any:
        return RollbackRequest.objects.get(pk=lost_rollback.pk).enqueued_at

    def resent() -> int:  # the sweep's messages for the lost rollback, waiting in its queue
        return int(store.llen(LOST_QUEUE))

    worker = start_worker(
        artifacts_dir / "beat-failover-worker.log", queues="celery", CELERY_BROKER_URL=broker,
        ROLLBACK_QUEUE=LOST_QUEUE, ROLLBACK_REQUEUE_SECONDS="0",
    )  # fmt: skip
    logs = {name: artifacts_dir / f"beat-failover-{name}.log" for name in ("first", "second")}
    beats = {name: start_beat(log, broker) for name, log in logs.items()}
    try:
        # Both up: one holds the lock and schedules, the other waits.
        active_pid = wait_for("a beat ticks", holder_pid, timeout=40)
        (active,) = [name for name, process in beats.items() if process.pid == active_pid]
        (standby,) = set(beats) - {active}
        wait_for("the standby is up", lambda: "beat: Starting" in logs[standby].read_text(), 20)
        wait_for("checkpoints are written", lambda: checkpoints() >= 2, timeout=20)
        wait_for("the lost rollback is swept", lambda: resent() >= 2, timeout=20)
        assert swept_at() > timezone.now() - timedelta(seconds=10)
        wait_for("the audit trail is sealed", lambda: not unsealed(), timeout=10)
        private = {
            "CELERY_BROKER_URL": broker,
            "CELERY_REDBEAT_REDIS_URL": f"unix://{private_redis.socket}",
        }
        with override_settings(**private):
            tick = beat.last_tick()
            status = client.get("/statusz")
        assert tick is not None and tick.holder == f"{socket.gethostname()} pid {active_pid}"
        assert tick.seconds_ago < 2 * MAX_INTERVAL
        checks = status.json()["checks"]
        assert checks["beat"] == checks["sealer"] == checks["rollback_queue"] == "ok", checks
        assert status.json()["beat"]["holder"] == tick.holder

        window = 6.0  # each tick sent once while both run: about one checkpoint a second
        before, sweeps_before = checkpoints(), resent()
        time.sleep(window)
        during, sweeps_during = checkpoints() - before, resent() - sweeps_before
        assert window / TICK - 2 <= during <= window / TICK + 2, during
        assert window / TICK - 2 <= sweeps_during <= window / TICK + 2, sweeps_during
        assert "Sending due task" not in logs[standby].read_text()
        assert beats[standby].poll() is None

        # The active beat dies without releasing its lock.
        killed_at = time.monotonic()
        stop(beats[active], signal.SIGKILL)
        wait_for("the standby holds the lock", lambda: holder_pid() == beats[standby].pid, 30)
        locked = time.monotonic() - killed_at
        after_lock, sweeps_after_lock = checkpoints(), resent()
        wait_for("sealing goes on", lambda: checkpoints() > after_lock, timeout=MARGIN)
        wait_for("the sweep goes on", lambda: resent() > sweeps_after_lock, timeout=MARGIN)
        takeover = time.monotonic() - killed_at
        print(f"beat takeover: lock {locked:.1f} s, work again {takeover:.1f} s")
        (artifacts_dir / "beat-failover.json").write_text(
            json.dumps({"lock_taken_seconds": locked, "takeover_seconds": takeover})
        )
        assert takeover <= LOCK_TIMEOUT + MAX_INTERVAL + MARGIN
        assert "beat: Acquired lock" in logs[standby].read_text()
        with override_settings(**private):
            assert (
                client.get("/statusz")
                .json()["beat"]["holder"]
                .endswith(f" pid {beats[standby].pid}")
            )
        assert swept_at() > timezone.now() - timedelta(seconds=TICK + MARGIN)
        assert RollbackRequest.objects.get(pk=lost_rollback.pk).status == RollbackStatus.REQUESTED
    finally:
        for process in beats.values():
            stop(process)
        stop_worker(worker)
        store.close()


def unsealed() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()

"""Celery beat in pairs: one schedules, the other waits to take over (celery-redbeat).

The schedule (settings.CELERY_BEAT_SCHEDULE) and a lock live in Redis (REDBEAT_REDIS_URL).
Every beat loads the schedule at start, then waits for the lock; the one holding it sends
the due tasks and renews the lock on each tick. When it dies the lock runs out after
REDBEAT_LOCK_TIMEOUT seconds and a standby, trying every BEAT_MAX_INTERVAL seconds, takes
it: the schedule goes on where it stopped, as each entry's last run is kept in Redis too.

On each tick the holder also records who it is and when it ticked (TICKER, a hash next to the
lock): /statusz and the beat containers' health check read it, and so does an operator who
wants to know which beat is the active one (`python -m config.beat`).

    python -m config.beat   # prints the holder and the age of its last tick; exit 1 if stale
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redbeat import RedBeatScheduler
from redbeat.schedulers import ensure_conf, get_redis
from redis import Redis

PROBE_TIMEOUT = 1.0  # seconds a reader waits for Redis: the probes answer within 2 s


def ticker_key(app: Any) -> str:
    return f"{ensure_conf(app).key_prefix}:ticker"


def stall_limit() -> float:
    """Seconds without a tick that mean no beat schedules: a takeover (the lock's timeout and
    the standby's next try) and one more interval of slack."""
    return float(settings.CELERY_REDBEAT_LOCK_TIMEOUT + 2 * settings.CELERY_BEAT_MAX_LOOP_INTERVAL)


class FailsafeScheduler(RedBeatScheduler):
    """redbeat's scheduler, which also says on each tick that it holds the lock."""

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        _require_a_redis()
        super().__init__(app, *args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        delay = super().tick(*args, **kwargs)  # renews the lock first: only the holder gets here
        record_tick(get_redis(self.app), ticker_key(self.app))
        return delay


def _require_a_redis() -> None:
    if not settings.CELERY_REDBEAT_REDIS_URL:
        raise ImproperlyConfigured(
            "REDBEAT_REDIS_URL (or CACHE_URL) must name a Redis when the broker is not Redis: "
            "beat keeps its schedule and its lock in Redis"
        )


def holder_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def record_tick(client: Redis, key: str) -> None:
    client.hset(key, mapping={"holder": holder_name(), "ticked_at": repr(time.time())})


@dataclass(frozen=True)
class LastTick:
    holder: str
    seconds_ago: float


def last_tick() -> LastTick | None:
    """The active beat's last tick, from Redis (None if no beat ever ticked there). Raises
    redis' errors when Redis does not answer within PROBE_TIMEOUT."""
    from config.celery import app

    _require_a_redis()
    client = Redis.from_url(
        settings.CELERY_REDBEAT_REDIS_URL,
        socket_timeout=PROBE_TIMEOUT,
        socket_connect_timeout=PROBE_TIMEOUT,
        decode_responses=True,
    )
    try:
        found = client.hgetall(ticker_key(app))
    finally:
        client.close()
    if not found:
        return None
    return LastTick(str(found["holder"]), max(0.0, time.time() - float(found["ticked_at"])))


def main() -> int:
    tick = last_tick()
    if tick is None:
        print("no beat has ticked yet")
        return 1
    print(f"active beat: {tick.holder}, last tick {tick.seconds_ago:.1f} s ago")
    return 0 if tick.seconds_ago <= stall_limit() else 1


if __name__ == "__main__":
    sys.exit(main())

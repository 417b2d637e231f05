"""Beat's settings come from the environment strictly: where its schedule and lock live, and
timings that give a takeover, or start-up stops."""

from __future__ import annotations

import pytest

from config.redis_urls import redis_url_of_broker
from tests.production_env import manage, production_env

SHOW = (
    "from django.conf import settings as s; "
    "print(s.CELERY_REDBEAT_REDIS_URL, s.CELERY_REDBEAT_LOCK_TIMEOUT, "
    "s.CELERY_BEAT_MAX_LOOP_INTERVAL, s.CELERY_BEAT_SCHEDULER)"
)


def beat_settings(**env: str) -> list[str]:
    result = manage("shell", "-c", SHOW, env=production_env(**env))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()


def test_beat_keeps_its_lock_in_the_brokers_redis_by_default():
    found = beat_settings(CELERY_BROKER_URL="redis://redis.internal:6379/2", REDBEAT_REDIS_URL="")
    assert found == ["redis://redis.internal:6379/2", "25", "5", "config.beat:FailsafeScheduler"]


def test_an_explicit_redis_for_beat_wins():
    found = beat_settings(
        CELERY_BROKER_URL="amqp://guest:guest@rabbit:5672//",
        REDBEAT_REDIS_URL="rediss://beat.internal:6380/0",
        REDBEAT_LOCK_TIMEOUT="60",
        BEAT_MAX_INTERVAL="10",
    )
    assert found[:3] == ["rediss://beat.internal:6380/0", "60", "10"]


@pytest.mark.parametrize(
    ("broker", "redis"),
    [
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("rediss://:pw@h:6380/1", "rediss://:pw@h:6380/1"),
        ("redis+socket:///tmp/r.sock", "unix:///tmp/r.sock"),
        ("amqp://guest@rabbit//", ""),
    ],
)
def test_the_brokers_redis_in_redis_pys_words(broker, redis):
    assert redis_url_of_broker(broker) == redis


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDBEAT_LOCK_TIMEOUT": "soon"}, "REDBEAT_LOCK_TIMEOUT must be a whole number"),
        ({"BEAT_MAX_INTERVAL": "0"}, "BEAT_MAX_INTERVAL must be at least 1 second"),
        (
            {"REDBEAT_LOCK_TIMEOUT": "8", "BEAT_MAX_INTERVAL": "5"},
            "REDBEAT_LOCK_TIMEOUT must be at least twice BEAT_MAX_INTERVAL",
        ),
    ],
)
def test_timings_that_give_no_takeover_stop_start_up(env, message):
    result = manage("check", env=production_env(**env))
    assert result.returncode != 0
    assert message in result.stderr

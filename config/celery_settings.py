"""Celery's settings, read from the environment: the broker, the schedule beat sends, and the
lock that lets beat run in pairs. config/settings.py takes them in."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_secret, redis_url
from config.redis_urls import redis_url_of_broker

CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_ACKS_LATE = True  # a worker lost mid-task gives the message back to the broker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # A Redis that stops answering without closing the connection (hung, partitioned, a
    # listener that never speaks) must not hold a worker or beat for ever: every blocking
    # command gives up after socket_timeout, and a consumer's overdue BRPOP is dropped and
    # made anew within brpop_timeout + 2 x health_check_interval (about 11 s, not 51).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 5,
    }
# Celery's Django fixup closes the database connection around every task unless told to
# reuse it; config/celery.py applies CONN_MAX_AGE instead, as Django does per request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BEAT_SCHEDULE = {
    "seal-audit-chains": {
        "task": "governance.tasks.seal_audit_chains",
        "schedule": env_int("AUDIT_SEAL_SECONDS", default=1),
        "options": {"expires": 10},  # a backlog of seals while workers were down is one seal
    },
    "checkpoint-audit-chains": {
        "task": "governance.tasks.checkpoint_audit_chains",
        "schedule": env_int("AUDIT_CHECKPOINT_SECONDS", default=300),
    },
    "evaluate-rollback-triggers": {
        "task": "incidents.tasks.evaluate_rollback_triggers",
        "schedule": env_int("ROLLBACK_TRIGGER_SECONDS", default=30),
        "options": {"expires": 60},
    },
    "evaluate-promql-triggers": {
        "task": "releases.tasks.evaluate_promql_triggers",
        "schedule": env_int("PROMQL_TRIGGER_SECONDS", default=15),
        "options": {"expires": 30},
    },
    "take-analysis-measurements": {
        "task": "releases.tasks.take_due_measurements",
        "schedule": env_int("ANALYSIS_TICK_SECONDS", default=5),
        "options": {"expires": 10},
    },
    "reconcile-environments": {
        "task": "releases.tasks.reconcile_environments",
        "schedule": env_int("RECONCILE_SECONDS", default=30),
        "options": {"expires": env_int("RECONCILE_SECONDS", default=30)},
    },
    "sweep-rollbacks": {
        "task": "releases.tasks.sweep_rollbacks",
        "schedule": env_int("ROLLBACK_SWEEP_SECONDS", default=5),
        "options": {"expires": 30},
    },
    "sweep-rollout-steps": {
        "task": "releases.tasks.sweep_rollout_steps",
        "schedule": 60,
        "options": {"expires": 120},
    },
    "sweep-model-imports": {
        "task": "releases.tasks.sweep_imports",
        "schedule": 60,
        "options": {"expires": 120},
    },
}
# Beat in pairs (celery-redbeat): the schedule above is loaded into Redis at start, and only
# the beat holding the lock sends it; the others wait as hot standbys. The holder renews the
# lock on every tick (at least every BEAT_MAX_INTERVAL seconds); a standby tries to take it
# every BEAT_MAX_INTERVAL seconds, so one takes over within REDBEAT_LOCK_TIMEOUT +
# BEAT_MAX_INTERVAL (30 s by default) of the holder's death, within BEAT_MAX_INTERVAL of a
# clean stop (the holder releases the lock).
CELERY_BEAT_SCHEDULER = "config.beat:FailsafeScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("BEAT_MAX_INTERVAL", default=5)
CELERY_REDBEAT_LOCK_TIMEOUT = env_int("REDBEAT_LOCK_TIMEOUT", default=25)
if CELERY_BEAT_MAX_LOOP_INTERVAL < 1:
    raise ImproperlyConfigured("BEAT_MAX_INTERVAL must be at least 1 second")
if CELERY_REDBEAT_LOCK_TIMEOUT < 2 * CELERY_BEAT_MAX_LOOP_INTERVAL:
    # The holder must renew it at least twice per timeout, or a slow tick hands it over.
    raise ImproperlyConfigured("REDBEAT_LOCK_TIMEOUT must be at least twice BEAT_MAX_INTERVAL")

# Beat's schedule and lock, like the rate limits (CACHE_URL below), live in the broker's Redis
# by default; with another broker (RabbitMQ) either setting names the Redis both use.
_explicit_cache_url = env_secret("CACHE_URL", default="")
CELERY_REDBEAT_REDIS_URL = (
    env_secret("REDBEAT_REDIS_URL", default="")
    or redis_url_of_broker(CELERY_BROKER_URL)
    or (redis_url("CACHE_URL", _explicit_cache_url) if _explicit_cache_url else "")
)
CELERY_REDBEAT_REDIS_OPTIONS = {  # as the broker's: a hung Redis fails a tick, never holds it
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 5,
}

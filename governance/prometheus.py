"""The deployment's own Prometheus metrics, beside the apps' (governance.metrics): which build
runs, and how many tasks wait in each broker queue.

The queue depths are read from a Redis broker at each scrape (LLEN: one round trip, bounded by
QUEUE_TIMEOUT); with another broker, or a Redis that does not answer in time, the family is
left out and the rest of the scrape is served.
"""

from __future__ import annotations

import logging
import subprocess
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric
from redis import Redis, RedisError

from config.redis_urls import redis_url_of_broker

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
QUEUE_TIMEOUT = 0.5  # seconds: a scrape must not wait on a hung broker
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


@cache
def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as pyproject:
        return str(tomllib.load(pyproject)["project"]["version"])


@cache
def _commit() -> str:
    """FAILSAFE_COMMIT as the deployment says it, else the checkout's (`make run`)."""
    if settings.FAILSAFE_COMMIT:
        return str(settings.FAILSAFE_COMMIT)
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def build_metrics() -> Iterable[Metric]:
    info = GaugeMetricFamily(
        "failsafe_build_info",
        "Always 1; the labels say which Failsafe version and commit this process runs.",
        labels=["version", "commit"],
    )
    info.add_metric([_version(), _commit()], 1)
    yield info


def broker_queues() -> list[str]:
    """The queues Failsafe sends tasks to."""
    from config.celery import app

    default = app.conf.task_default_queue
    return sorted({default, settings.ROLLBACK_QUEUE, settings.ROLLBACK_NOTIFY_QUEUE})


@cache
def _broker(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=QUEUE_TIMEOUT, socket_connect_timeout=QUEUE_TIMEOUT)


def queue_metrics() -> Iterable[Metric]:
    url = redis_url_of_broker(settings.CELERY_BROKER_URL)
    if not url:
        return  # RabbitMQ and others: its own exporter reports its queues
    queues = broker_queues()
    try:
        with _broker(url).pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.llen(queue)
                for step in PRIORITY_STEPS:
                    pipe.llen(f"{queue}{PRIORITY_SEPARATOR}{step}")
            lengths = pipe.execute()
    except RedisError:
        logger.warning("the broker's queue lengths could not be read", exc_info=True)
        return
    family = GaugeMetricFamily(
        "failsafe_broker_queue_messages",
        "Tasks waiting in each broker queue, not yet taken by a worker.",
        labels=["queue"],
    )
    per_queue = 1 + len(PRIORITY_STEPS)
    for index, queue in enumerate(queues):
        family.add_metric([queue], sum(lengths[index * per_queue : (index + 1) * per_queue]))
    yield family

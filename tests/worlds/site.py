"""The site's world: the probes, sign-in and home need no rows, only the personas, a worker
for /statusz, and a beat's tick (recorded as the active beat records it: no beat runs here)."""

from __future__ import annotations

import pytest
from django.conf import settings
from redis import Redis

from config import beat
from config.celery import app


@pytest.fixture
def site_world(people, celery_worker, monkeypatch):
    # /readyz is ready only when a worker answers: celery_worker is the suite's real one.
    # Here the question is who gets an answer, not how fast: on a loaded machine (two test
    # workers on two cores) the worker's reply can take longer than the probe's bound, which
    # tests/test_health.py holds to.
    from config import health

    monkeypatch.setattr(health, "WORKER_TIMEOUT", 5.0)
    with Redis.from_url(settings.CELERY_REDBEAT_REDIS_URL) as store:
        beat.record_tick(store, beat.ticker_key(app))
        yield people, {}
        store.delete(beat.ticker_key(app))

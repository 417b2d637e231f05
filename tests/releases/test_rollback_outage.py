"""Never lost: with the broker down, presses are recorded and answered "queued"; when it is
back, the sweep sends them and every one completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.embedded import EmbeddedRedis
from releases.models import RollbackRequest, RollbackStatus
from tests.conftest import start_worker, stop_worker, worker_database_url
from tests.fixtures.releases import REGIONS

pytestmark = pytest.mark.django_db(transaction=True)

ENVIRONMENTS = REGIONS
QUEUE = "rollback-outage-test"

# What a web process does on a press, and what beat does on a sweep: run in processes of
# their own, on the private broker (this test process keeps the suite's broker).
PRESS = """
import json, sys, django
django.setup()
from django.contrib.auth import get_user_model
from releases.models import Environment
from releases import rollbacks
user = get_user_model().objects.get(username=sys.argv[1])
answers = []
for environment in Environment.objects.filter(pk__in=json.loads(sys.argv[2])).order_by("pk"):
    request, created = rollbacks.request_rollback(
        actor=user, environment=environment, reason="Bad release everywhere")
    answers.append([request.pk, request.status, created])
print(json.dumps(answers))
"""
SWEEP = """
import django
django.setup()
from releases import rollbacks
print(rollbacks.sweep_rollbacks())
"""


def run(script: str, broker: str, *args: str) -> str:
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker,
        ROLLBACK_QUEUE=QUEUE,
        ROLLBACK_REQUEUE_SECONDS="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_presses_while_the_broker_is_down_all_complete_after_the_sweep(
    tmp_path: Path, artifacts_dir, twenty_regions, rollback_owner
):
    broker = EmbeddedRedis.start(tmp_path / "broker", persist=False)
    url = broker.url()
    worker = start_worker(artifacts_dir / "worker-outage.log", queues=QUEUE, CELERY_BROKER_URL=url)
    try:
        broker.stop()  # the outage
        ids = json.dumps([e.pk for e in twenty_regions])
        answers = json.loads(run(PRESS, url, rollback_owner.get_username(), ids))
        assert len(answers) == ENVIRONMENTS
        assert all(status == "requested" and created for _, status, created in answers)
        assert RollbackRequest.objects.filter(status=RollbackStatus.REQUESTED).count() == 20

        broker = EmbeddedRedis.start(tmp_path / "broker", persist=False)  # back, same socket
        assert int(run(SWEEP, url)) == ENVIRONMENTS
        swept = time.monotonic()
        while RollbackRequest.objects.filter(status=RollbackStatus.SUCCEEDED).count() < 20:
            assert time.monotonic() - swept < 10, list(
                RollbackRequest.objects.values_list("status", "error")
            )
            time.sleep(0.2)
    finally:
        stop_worker(worker)
        broker.stop()
    assert RollbackRequest.objects.count() == ENVIRONMENTS  # none lost, none doubled

"""The alert intake's rate limit: per alert token, 429 as JSON with Retry-After; and one token's
flood leaves another token's alerts served as fast as before, on a real web server."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from incidents.models import Alert
from incidents.services.alert_tokens import create_alert_token
from tests.conftest import worker_database_url
from tests.incidents.alerts import alertmanager, post
from tests.releases.test_rollback_broker_faults import _free_port, stop_web

INTAKE = "/api/alerts/alertmanager/"


def rates(settings: Any, **scopes: str) -> None:
    current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**current, **scopes},
    }


@pytest.mark.django_db
def test_past_a_tokens_limit_the_intake_answers_429_json_with_retry_after(
    settings, client, owner, fraud
):
    rates(settings, alert="2/min")
    runaway = create_alert_token(actor=owner, system=fraud, name="Runaway")[1]
    steady = create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]
    info = alertmanager(severity="info")  # recorded, no incident: the limit is the point here
    assert [post(client, INTAKE, info, runaway).status_code for _ in range(2)] == [202, 202]
    refused = post(client, INTAKE, info, runaway)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 60
    assert refused.json()["detail"] == (
        f"Too many requests with this alert token: at most 2 a minute. "
        f"Try again in {wait} second{'s' if wait != 1 else ''}."
    )
    assert Alert.objects.count() == 2  # the refused post wrote nothing
    # Another token of the same system has its own count.
    assert post(client, INTAKE, info, steady).status_code == 202


@pytest.mark.django_db
def test_a_refused_post_costs_the_database_no_more_than_its_tokens_lookup(
    settings, client, owner, fraud, django_assert_max_num_queries
):
    # What keeps a flood from starving the rest: past its limit, a post is answered before
    # any of the intake's work (16 statements for an alert that opens an incident).
    rates(settings, alert="1/min")
    runaway = create_alert_token(actor=owner, system=fraud, name="Runaway")[1]
    info = alertmanager(severity="info")
    assert post(client, INTAKE, info, runaway).status_code == 202
    with django_assert_max_num_queries(2):  # the token and its system, nothing written
        assert post(client, INTAKE, info, runaway).status_code == 429


@pytest.mark.django_db
def test_an_alert_token_counts_apart_from_the_api(settings, client, owner, fraud):
    rates(settings, alert="1/min", user="1/min")
    token = create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]
    client.force_login(owner)
    assert client.get("/api/systems/").status_code == 200
    assert post(client, INTAKE, alertmanager(severity="info"), token).status_code == 202


# --- a flood on a real server ---------------------------------------------------------------

FLOOD_THREADS = 3
# Posts a second: 9,000 a minute, 15 times the default limit and 90 times this test's; more
# than any Alertmanager sends (it groups alerts into one post per group and interval).
# Unpaced, on a 2-core machine, the flood's own client and the server's GIL would take the
# CPU from everyone, which no rate limit can prevent; a limit keeps the flood cheap.
FLOOD_RATE = 150
SAMPLES = 40
LIMIT = 2 * SAMPLES + 20  # a minute's worth for each token: the steady one never meets it
# The steady sender's p50 during the flood, at most this times its p50 before. Unthrottled,
# the flood's posts each do the intake's whole work and the steady sender waits seconds; the
# refused ones cost no query (the test above), and what remains is the flood's share of two
# shared cores (1.1-3.3 times over many runs), so the bound leaves room for a loaded machine.
MOST_SLOWER = 6.0


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """The web server as production runs it (processes of threads), on a loopback port."""
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--no-control-socket"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield base
    finally:
        stop_web(process)


def post_once(client: httpx.Client, token: str) -> int:
    body = json.dumps(alertmanager(severity="info"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.post(INTAKE, content=body, headers=headers).status_code


def timed_posts(client: httpx.Client, token: str, count: int) -> list[float]:
    seconds = []
    body = json.dumps(alertmanager(severity="info"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(INTAKE, content=body, headers=headers)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 202, response.text
    return seconds


@pytest.mark.django_db(transaction=True)
def test_one_tokens_flood_leaves_another_tokens_alerts_as_fast(owner, fraud, artifacts_dir):
    runaway = create_alert_token(actor=owner, system=fraud, name="Runaway")[1]
    steady = create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        ALERT_RATE_TOKEN=f"{LIMIT}/min",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    log = artifacts_dir / "web-alert-flood.log"
    with gunicorn(env, log) as base, httpx.Client(base_url=base, timeout=10) as client:
        timed_posts(client, steady, 10)  # warm: connections, prepared statements
        before = timed_posts(client, steady, SAMPLES)
        flood = subprocess.Popen(
            [sys.executable, "-m", "tests.incidents.alert_flood", base, runaway,
             str(FLOOD_THREADS), str(FLOOD_RATE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while post_once(client, runaway) != 429:  # until the flood has spent its limit
                assert time.monotonic() < deadline, "the flood never spent its limit"
                time.sleep(0.05)
            during = timed_posts(client, steady, SAMPLES)
        finally:
            output, _ = flood.communicate(timeout=30)  # closes its stdin: it stops
    statuses = Counter({int(k): v for k, v in json.loads(output).items()})

    p50_before, p50_during = statistics.median(before), statistics.median(during)
    summary = (
        f"steady p50 before {p50_before * 1000:.1f} ms, during the flood "
        f"{p50_during * 1000:.1f} ms; flood answers {dict(statuses)}"
    )
    (artifacts_dir / "alert-flood.txt").write_text(summary + "\n")
    print(summary)
    assert statuses[202] <= LIMIT, summary  # the runaway token got its limit, no more
    assert statuses[429] >= 10 * FLOOD_THREADS, summary  # and was flooding meanwhile
    assert p50_during <= MOST_SLOWER * p50_before, summary

"""The probes: /healthz (the process is up) and /readyz (the database, the broker and a
worker answer)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from django.db import OperationalError, connection
from django.test import override_settings


def test_healthz_answers_anonymous_callers_without_the_database(client):
    # No django_db mark: pytest-django fails the test if the view touches the database.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_the_broker_and_a_worker_answer(client, celery_worker):
    started = time.monotonic()
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "worker": "ok"},
    }
    assert time.monotonic() - started < 1  # the first pong ends the wait


@pytest.fixture
def empty_broker(tmp_path):
    """A Redis broker of its own (the embedded one, on a socket in tmp_path): it answers,
    and no worker of this suite listens on it."""
    from config.embedded import EmbeddedRedis

    broker = EmbeddedRedis.start(tmp_path / "redis", persist=False)
    yield broker.url()
    broker.stop()


@pytest.mark.django_db
def test_readyz_names_the_worker_when_none_answers(client, empty_broker):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=empty_broker):
        response = client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "ok", "worker": "error: NoWorkerAnswered"},
        "failing": ["worker"],
    }
    assert elapsed < 3  # bounded: WORKER_TIMEOUT, not Celery's default waits


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down(client, tmp_path):
    dead = tmp_path / "dead.sock"
    # A socket file nobody listens on: connecting is refused at once.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead))
    try:
        with override_settings(CELERY_BROKER_URL=f"redis+socket://{dead}"):
            response = client.get("/readyz")
    finally:
        listener.close()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")
    assert body["checks"]["worker"] == "skipped: broker unavailable"  # not waited for
    assert str(dead) not in response.content.decode()  # no infrastructure details leak


@pytest.fixture(params=["hung", "silent"])
def unanswering_broker(request, empty_broker, tmp_path):
    """A broker that takes connections and never answers: Redis stopped by SIGSTOP (wedged
    or partitioned), or a plain listener that never says a word."""
    if request.param == "hung":
        pid = int((tmp_path / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        yield empty_broker
        os.kill(pid, signal.SIGCONT)
        return
    path = tmp_path / "silent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    yield f"redis+socket://{path}"
    listener.close()


@pytest.mark.django_db
def test_readyz_answers_within_two_seconds_when_the_broker_never_answers(
    client, unanswering_broker
):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=unanswering_broker):
        response = client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert response.json()["checks"]["worker"] == "skipped: broker unavailable"
    assert elapsed < 2


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(client, monkeypatch, celery_worker):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["broker"] == "ok"
    assert response.json()["checks"]["worker"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_exempt_from_the_https_redirect(client, path, celery_worker):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/systems/").status_code == 301  # the redirect is on
        response = client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
def test_probes_do_not_change_state(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405

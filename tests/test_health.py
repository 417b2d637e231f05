"""The probes: /healthz (the process is up) and /readyz (the database and the broker answer)."""

from __future__ import annotations

import socket

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
def test_readyz_is_ready_when_the_database_and_the_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


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
    assert str(dead) not in response.content.decode()  # no infrastructure details leak


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["broker"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_exempt_from_the_https_redirect(client, path):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/systems/").status_code == 301  # the redirect is on
        response = client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
def test_probes_do_not_change_state(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405

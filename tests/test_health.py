"""The probes: /healthz (the process is up), /readyz (this web process can serve: the
database answers) and /statusz (the work behind it gets done: the broker, a worker, the
sealer, the rollback queue and beat); and the war room's banner when rollbacks would queue.

No beat runs here (its tasks would work on other tests' data): `beat_ticked` records a tick
in the suite's Redis the way the active beat does on each of its ticks (config/beat.py);
tests/test_beat_failover.py reads /statusz against real beats."""

from __future__ import annotations

import json
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


HEALTHY = {
    "database": "ok", "broker": "ok", "worker": "ok", "sealer": "ok", "rollback_queue": "ok",
    "beat": "ok",
}  # fmt: skip


def _record_tick(settings) -> str:  # type: ignore[no-untyped-def]
    from redis import Redis

    from config import beat
    from config.celery import app

    with Redis.from_url(settings.CELERY_REDBEAT_REDIS_URL) as store:
        beat.record_tick(store, beat.ticker_key(app))
    return beat.holder_name()


@pytest.fixture
def no_beat(settings):
    from redis import Redis

    from config import beat
    from config.celery import app

    with Redis.from_url(settings.CELERY_REDBEAT_REDIS_URL) as store:
        store.delete(beat.ticker_key(app))
        yield
        store.delete(beat.ticker_key(app))


@pytest.fixture
def beat_ticked(settings, no_beat):
    """The active beat's name, as it recorded its tick just now."""
    return _record_tick(settings)


@pytest.mark.django_db
def test_statusz_is_ok_when_everything_behind_the_pages_answers(client, celery_worker, beat_ticked):
    started = time.monotonic()
    response = client.get("/statusz")

    assert response.status_code == 200, response.content
    body = response.json()
    found = body.pop("beat")
    assert found["holder"] == beat_ticked  # who holds the lock: "<host> pid <pid>"
    assert 0 <= found["last_tick_seconds_ago"] < 10
    assert body == {"status": "ok", "checks": HEALTHY}
    assert time.monotonic() - started < 1  # the first pong ends the wait


@pytest.mark.django_db
def test_statusz_says_when_no_beat_ever_ticked(client, celery_worker, no_beat):
    body = client.get("/statusz").json()

    assert body["checks"]["beat"] == "error: NoBeat"
    assert body["failing"] == ["beat"]


@pytest.mark.django_db
def test_statusz_says_when_beat_stopped_ticking(client, celery_worker, settings, no_beat):
    import time_machine

    from config import beat

    with time_machine.travel(time.time() - beat.stall_limit() - 5):
        _record_tick(settings)
    fresh = client.get("/statusz")
    assert fresh.status_code == 503
    assert fresh.json()["checks"]["beat"] == f"behind: no tick for {beat.stall_limit() + 5:.0f} s"
    assert fresh.json()["failing"] == ["beat"]
    assert "beat" not in fresh.json() or "holder" not in fresh.json()["beat"]

    _record_tick(settings)  # a standby took over
    assert client.get("/statusz").status_code == 200


@pytest.mark.django_db
def test_the_beat_check_waits_for_the_broker_when_they_share_a_redis(client, tmp_path, settings):
    dead = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead))
    settings.CELERY_REDBEAT_REDIS_URL = f"unix://{dead}"
    try:
        with override_settings(CELERY_BROKER_URL=f"redis+socket://{dead}"):
            body = client.get("/statusz").json()
    finally:
        listener.close()

    assert body["checks"]["beat"] == "skipped: broker unavailable"
    assert body["failing"] == ["broker"]


@pytest.mark.django_db
def test_the_beat_check_names_its_own_redis_when_it_is_down(
    client, celery_worker, tmp_path, settings
):
    settings.CELERY_REDBEAT_REDIS_URL = f"unix://{tmp_path / 'none.sock'}"
    body = client.get("/statusz").json()

    assert body["checks"]["beat"].startswith("error: ")
    assert body["failing"] == ["beat"]
    assert "none.sock" not in json.dumps(body)


@pytest.mark.django_db
def test_readyz_keeps_the_web_in_rotation_without_broker_or_workers(client, tmp_path):
    # The war room must stay up when the workers or the broker fail: readiness asks only
    # what serving pages needs.
    with override_settings(CELERY_BROKER_URL=f"redis+socket://{tmp_path / 'none.sock'}"):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.fixture
def empty_broker(tmp_path):
    """A Redis broker of its own (the embedded one, on a socket in tmp_path): it answers,
    and no worker of this suite listens on it."""
    from config.embedded import EmbeddedRedis

    broker = EmbeddedRedis.start(tmp_path / "redis", persist=False)
    yield broker.url()
    broker.stop()


@pytest.mark.django_db
def test_statusz_names_the_worker_when_none_answers(client, empty_broker, beat_ticked):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=empty_broker):
        response = client.get("/statusz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["beat"]["holder"] == beat_ticked
    assert {**response.json(), "beat": None} == {
        "beat": None,
        "status": "unavailable",
        "checks": {**HEALTHY, "worker": "error: NoWorkerAnswered"},
        "failing": ["worker"],
    }
    assert elapsed < 3  # bounded: WORKER_TIMEOUT, not Celery's default waits


@pytest.mark.django_db
def test_statusz_names_the_broker_when_it_is_down(client, tmp_path, beat_ticked):
    dead = tmp_path / "dead.sock"
    # A socket file nobody listens on: connecting is refused at once.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead))
    try:
        with override_settings(CELERY_BROKER_URL=f"redis+socket://{dead}"):
            response = client.get("/statusz")
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
def test_statusz_answers_within_two_seconds_when_the_broker_never_answers(
    client, unanswering_broker, beat_ticked
):
    started = time.monotonic()
    with override_settings(CELERY_BROKER_URL=unanswering_broker):
        response = client.get("/statusz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert response.json()["checks"]["worker"] == "skipped: broker unavailable"
    assert elapsed < 2


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/readyz", "/statusz"])
def test_both_probes_name_the_database_when_it_fails(
    client, monkeypatch, celery_worker, path, beat_ticked
):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get(path)

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    if path == "/statusz":
        assert response.json()["checks"]["broker"] == "ok"
        assert response.json()["checks"]["worker"] == "ok"
        assert response.json()["checks"]["sealer"] == "skipped: database unavailable"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/statusz"])
def test_probes_are_exempt_from_the_https_redirect(client, path, celery_worker, beat_ticked):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/systems/").status_code == 301  # the redirect is on
        response = client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
def test_probes_do_not_change_state(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
    assert client.post("/statusz").status_code == 405


# --- work that stalls: the status probe and the war room's banner ----------------------------


@pytest.fixture
def fresh_trouble(monkeypatch):  # type: ignore[no-untyped-def]
    from config import health

    monkeypatch.setattr(health, "_found", (0.0, None))  # nothing remembered from before
    return health


@pytest.mark.django_db
def test_a_rollback_nobody_takes_shows_on_the_status_and_in_the_war_room(
    client, celery_worker, incident, earlier, rollback_owner, fresh_trouble, beat_ticked
):
    from datetime import timedelta

    from django.utils import timezone

    from incidents import services
    from releases.models import RollbackRequest

    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    RollbackRequest.objects.filter(pk=request.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=2)
    )
    status = client.get("/statusz").json()
    assert status["checks"]["rollback_queue"].startswith("behind: a rollback waits")
    assert status["failing"] == ["rollback_queue"]
    client.force_login(rollback_owner)
    banner = client.get("/incidents/background/").content.decode()
    assert 'data-testid="background-trouble"' in banner and "no worker has taken it" in banner
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'hx-get="/incidents/background/"' in page  # the war room polls it


@pytest.mark.django_db
def test_an_audit_trail_left_unsealed_says_background_work_stalls(
    client, incident, viewer, fresh_trouble
):
    from datetime import timedelta

    import time_machine
    from django.db import transaction
    from django.utils import timezone

    from governance import audit

    with time_machine.travel(timezone.now() - timedelta(minutes=10)), transaction.atomic():
        audit.record_event(actor=None, action="system.checked", system=incident.system)
    assert client.get("/statusz").json()["checks"]["sealer"].startswith("behind:")
    client.force_login(viewer)
    banner = client.get("/incidents/background/").content.decode()
    assert "background work is stalled" in banner


@pytest.mark.django_db
def test_no_banner_when_the_work_gets_done(client, incident, viewer, fresh_trouble):
    from governance.audit.chain import seal_all

    seal_all()
    client.force_login(viewer)
    assert client.get("/incidents/background/").content.decode().strip() == ""


@pytest.mark.django_db
def test_the_beat_check_says_when_beat_has_no_redis(client, settings):
    # RabbitMQ as the broker and no REDBEAT_REDIS_URL: beat cannot run, and the probe says so.
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    settings.CELERY_REDBEAT_REDIS_URL = ""
    body = client.get("/statusz").json()

    assert body["checks"]["beat"] == "error: ImproperlyConfigured"
    assert "beat" in body["failing"]

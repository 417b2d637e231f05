"""The signed-webhook backend against a real HTTP receiver (tests/fixtures/webhook_server.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from governance.people import person_label
from incidents import services as incidents
from releases import rollbacks, tasks
from releases.backends import BackendError, RollbackContext
from releases.backends.webhook import WebhookBackend, sign, verify
from releases.models import BackendType, ComponentKind, Release, RollbackStatus
from tests.conftest import worker_database_url

SECRET = "whsec-test-0123456789"
CONTEXT = RollbackContext(reason="Review rate tripled", requested_by="Rob Stone (rob)")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(webhook_receiver, production):
    webhook_receiver.configure(production)
    production.refresh_from_db()  # what a worker loads: the secret decrypted from the database
    return WebhookBackend(production)


@pytest.fixture
def release(make_release):
    return make_release("2.0.0")


@pytest.fixture
def previous(make_release):
    return make_release("1.0.0")


def with_config(environment, **changes):
    environment.backend_config = {**environment.backend_config, **changes}
    return WebhookBackend(environment)


# sign / verify


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"action":"deploy"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == f"v1={expected}"
    assert verify(SECRET, "1700000000", body, f"v1={expected}", now=1700000010)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "signature_of"),
    [
        pytest.param(SECRET, "1700000000", b'{"traffic_percent":100}', None, id="tampered body"),
        pytest.param("another-secret", "1700000000", b"{}", None, id="wrong secret"),
        pytest.param(SECRET, "1700000001", b"{}", None, id="timestamp changed"),
        pytest.param(SECRET, "1700000000", b"{}", "v0", id="other scheme"),
        pytest.param(SECRET, "1700000000", b"{}", "bare", id="no scheme"),
        pytest.param(SECRET, "1700000000", b"{}", "empty", id="empty signature"),
        pytest.param(SECRET, "17000000e1", b"{}", None, id="timestamp not digits"),
        pytest.param(SECRET, None, b"{}", None, id="no timestamp"),
        pytest.param(SECRET, "1700000000", b"{}", "none", id="no signature"),
        pytest.param(SECRET, "1700000000", b"{}", "unicode", id="non-ascii signature"),
    ],
)
def test_verify_refuses(secret, timestamp, body, signature_of):
    good = sign(SECRET, 1700000000, b"{}")  # what was really sent: body {} at 1700000000
    signature = {
        None: good,
        "v0": good.replace("v1=", "v0="),
        "bare": good.removeprefix("v1="),
        "empty": "",
        "none": None,
        "unicode": good[:-1] + "é",
    }[signature_of]
    assert not verify(secret, timestamp, body, signature, now=1700000000)


@pytest.mark.parametrize("skew", [-301, 301, -86400], ids=["stale", "future", "a day old"])
def test_verify_refuses_a_timestamp_outside_the_tolerance(skew):
    body = b"{}"
    signature = sign(SECRET, 1700000000, body)
    assert verify(SECRET, 1700000000, body, signature, now=1700000000 - 299)
    assert not verify(SECRET, 1700000000, body, signature, now=1700000000 - skew)
    assert verify(SECRET, 1700000000, body, signature, tolerance_seconds=100000,
                  now=1700000000 - skew)  # fmt: skip


# Deploy and rollback


def test_it_sends_a_signed_request_the_receiver_verifies(
    backend, webhook_receiver, production, release
):
    result = backend.deploy(
        release=release, stage="shadow", traffic_percent=5, idempotency_key="key-1"
    )

    assert result.accepted
    assert result.detail["status_code"] == 200
    assert result.detail["response"]["candidate_version"] == "2.0.0"
    [call] = webhook_receiver.calls
    assert call.signature_ok and call.applied and call.response_status == 200
    assert call.headers["content-type"] == "application/json"
    assert call.headers["idempotency-key"] == "key-1"
    timestamp = call.headers["x-failsafe-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert verify(webhook_receiver.secret, timestamp, call.body,
                  call.headers["x-failsafe-signature"])  # fmt: skip
    assert not verify(webhook_receiver.secret, timestamp, call.body + b" ",
                      call.headers["x-failsafe-signature"])  # fmt: skip


def test_the_body_follows_the_contract(backend, webhook_receiver, production, release):
    backend.deploy(release=release, stage="general_release", traffic_percent=100,
                   idempotency_key="key-1")  # fmt: skip

    body = webhook_receiver.calls[0].json
    assert set(body) == {"action", "system", "environment", "release", "from_release", "stage",
                         "traffic_percent", "idempotency_key", "rollback", "sent_at"}  # fmt: skip
    assert body["action"] == "deploy" and body["rollback"] is None
    assert (body["system"], body["environment"]) == ("fraud", production.slug)
    assert body["from_release"] is None
    assert (body["stage"], body["traffic_percent"]) == ("general_release", 100.0)
    assert body["idempotency_key"] == "key-1"
    assert body["sent_at"].endswith("+00:00")
    assert body["release"]["version"] == "2.0.0"
    assert body["release"]["content_digest"] == release.content_digest
    assert set(body["release"]["components"]) == set(ComponentKind.values)
    model = release.components.get(kind="model")
    assert body["release"]["components"]["model"] == {
        "version": model.version, "uri": model.uri, "digest": model.digest,
    }  # fmt: skip
    assert webhook_receiver.live_version == "2.0.0"


def test_a_rollback_names_both_releases_and_makes_the_target_live(
    backend, webhook_receiver, release, previous
):
    webhook_receiver.set_live("2.0.0")

    result = backend.rollback(
        from_release=release, to_release=previous, idempotency_key="rb-1", context=CONTEXT
    )

    assert result.accepted
    body = webhook_receiver.calls[0].json
    assert body["action"] == "rollback"
    assert body["release"]["version"] == "1.0.0"
    assert body["from_release"]["version"] == "2.0.0"
    assert (body["stage"], body["traffic_percent"]) == ("general_release", 100.0)
    assert body["rollback"] == CONTEXT.as_payload()
    assert webhook_receiver.live_version == "1.0.0"
    assert webhook_receiver.applied["rb-1"].from_version == "2.0.0"


def test_a_rollback_from_an_incident_tells_the_receiver_why_who_asked_and_for_which_incident(
    settings, webhook_receiver, successor, live_release, production, fraud, oncall_lead,
    rollback_owner,
):  # fmt: skip
    settings.SITE_URL = "https://failsafe.example.com"
    webhook_receiver.configure(production)
    webhook_receiver.set_live(successor.version)
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x since 2.1.0 went out."
    )

    assert rollbacks.run_rollback(request_id=request.pk).status == RollbackStatus.SUCCEEDED

    [call] = [call for call in webhook_receiver.calls if call.action == "rollback"]
    assert call.json["rollback"] == {
        "reason": "Review rate 3x since 2.1.0 went out.",
        "requested_by": person_label(rollback_owner),
        "confirmed_by": None,
        "incident": f"INC-{incident.pk}",
        "incident_title": "Review rate tripled",
        "incident_url": f"https://failsafe.example.com/incidents/{incident.pk}/",
        "request_id": request.pk,
        "drill": False,
    }
    assert call.json["release"]["version"] == live_release.version


def test_a_rollback_without_a_from_release_sends_null(backend, webhook_receiver, previous):
    backend.rollback(
        from_release=None, to_release=previous, idempotency_key="rb-1", context=CONTEXT
    )

    assert webhook_receiver.calls[0].json["from_release"] is None
    assert webhook_receiver.live_version == "1.0.0"


def test_a_replayed_key_is_answered_with_the_original_result_and_not_applied_twice(
    backend, webhook_receiver, release, previous
):
    first = backend.deploy(release=release, stage="general_release", traffic_percent=100,
                           idempotency_key="key-1")  # fmt: skip
    backend.rollback(
        from_release=release, to_release=previous, idempotency_key="rb-1", context=CONTEXT
    )
    again = backend.deploy(release=release, stage="general_release", traffic_percent=100,
                           idempotency_key="key-1")  # fmt: skip

    assert len(webhook_receiver.calls) == 3
    assert list(webhook_receiver.applied) == ["key-1", "rb-1"]
    assert again.detail["response"] == first.detail["response"]
    assert again.detail["replayed"] is True and "replayed" not in first.detail
    assert webhook_receiver.live_version == "1.0.0"  # the replay did not redeploy 2.0.0


def test_the_same_key_for_a_different_request_is_refused(backend, webhook_receiver, release):
    backend.deploy(release=release, stage="shadow", traffic_percent=5, idempotency_key="key-1")

    with pytest.raises(BackendError, match="reused") as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=50,
                       idempotency_key="key-1")  # fmt: skip

    assert not error.value.transient
    assert error.value.response["status_code"] == 422
    assert webhook_receiver.traffic_percent == 5


def test_a_key_still_in_progress_is_a_transient_409(backend, webhook_receiver, release):
    # The first call runs in a thread, which has its own database connection (outside the
    # test's transaction): give it everything it reads already loaded.
    release = Release.objects.prefetch_related("components").get(pk=release.pk)
    assert backend.environment.system.slug == "fraud"
    webhook_receiver.delay(1, before_apply=True)
    results = []

    def first_call() -> None:
        results.append(backend.deploy(release=release, stage="shadow", traffic_percent=5,
                                      idempotency_key="key-1"))  # fmt: skip

    first = threading.Thread(target=first_call)
    first.start()
    webhook_receiver.wait_for(lambda r: "key-1" in r.in_flight, timeout=5)

    with pytest.raises(BackendError, match="409") as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=5,
                       idempotency_key="key-1")  # fmt: skip
    first.join(timeout=10)

    assert error.value.transient
    assert results and results[0].accepted
    assert list(webhook_receiver.applied) == ["key-1"]


def test_fifty_simultaneous_calls_with_one_key_apply_once(backend, webhook_receiver, release):
    release = Release.objects.prefetch_related("components").get(pk=release.pk)  # see above
    assert backend.environment.system.slug == "fraud"
    webhook_receiver.delay(0.3, before_apply=True)

    def press(_: int) -> str:
        try:
            backend.deploy(release=release, stage="general_release", traffic_percent=100,
                           idempotency_key="one-key")  # fmt: skip
        except BackendError as error:
            return "transient" if error.transient else f"permanent: {error}"
        return "accepted"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(press, range(50)))

    assert len(webhook_receiver.calls) == 50
    assert list(webhook_receiver.applied) == ["one-key"]
    assert set(outcomes) <= {"accepted", "transient"} and outcomes["accepted"] >= 1
    assert outcomes["transient"] == sum(c.response_status == 409 for c in webhook_receiver.calls)


def test_fifty_simultaneous_calls_with_their_own_keys_all_apply(backend, webhook_receiver, release):
    release = Release.objects.prefetch_related("components").get(pk=release.pk)  # see above
    assert backend.environment.system.slug == "fraud"

    def press(number: int) -> bool:
        return backend.deploy(release=release, stage="shadow", traffic_percent=number % 100,
                              idempotency_key=f"key-{number}").accepted  # fmt: skip

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert all(pool.map(press, range(50)))

    assert len(webhook_receiver.calls) == len(webhook_receiver.applied) == 50
    assert all(call.signature_ok for call in webhook_receiver.calls)


# Errors


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_a_server_error_or_throttling_is_transient(backend, webhook_receiver, release, status):
    webhook_receiver.fail_next(1, status=status, message="platform busy")

    with pytest.raises(BackendError, match="platform busy") as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=5,
                       idempotency_key="key-1")  # fmt: skip

    assert error.value.transient
    assert error.value.response["status_code"] == status
    assert webhook_receiver.applied == {}
    # The retry, with the same key, goes through once.
    assert backend.deploy(release=release, stage="shadow", traffic_percent=5,
                          idempotency_key="key-1").accepted  # fmt: skip
    assert list(webhook_receiver.applied) == ["key-1"]


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_client_error_is_permanent_with_the_receivers_message(
    backend, webhook_receiver, release, status
):
    webhook_receiver.fail_next(1, status=status, message="unknown model family")

    with pytest.raises(BackendError) as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=5,
                       idempotency_key="key-1")  # fmt: skip

    assert not error.value.transient
    assert f"HTTP {status}" in str(error.value)
    assert "unknown model family" in str(error.value)
    assert webhook_receiver.applied == {}


def test_a_wrong_secret_is_refused_by_the_receiver(webhook_receiver, production, release):
    webhook_receiver.configure(production)
    production.backend_secrets = {"signing_secret": "not-the-receivers-secret"}

    with pytest.raises(BackendError, match="HTTP 401") as error:
        WebhookBackend(production).deploy(release=release, stage="shadow", traffic_percent=5,
                                          idempotency_key="key-1")  # fmt: skip

    assert not error.value.transient
    [call] = webhook_receiver.calls
    assert not call.signature_ok and call.response_status == 401
    assert webhook_receiver.applied == {}


def test_the_receiver_refuses_a_stale_or_unsigned_request(webhook_receiver):
    body = json.dumps({"action": "deploy", "idempotency_key": "k"}).encode()
    stale = int(time.time()) - 600
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k"}

    old = httpx.post(webhook_receiver.deploy_url, content=body, headers={
        **headers, "X-Failsafe-Timestamp": str(stale),
        "X-Failsafe-Signature": sign(webhook_receiver.secret, stale, body),
    })  # fmt: skip
    unsigned = httpx.post(webhook_receiver.deploy_url, content=body, headers=headers)

    assert (old.status_code, unsigned.status_code) == (401, 401)
    assert webhook_receiver.applied == {}


def test_a_timeout_is_transient_and_the_retry_is_not_applied_twice(
    webhook_receiver, production, release
):
    webhook_receiver.configure(production, timeout_seconds=0.3)
    backend = WebhookBackend(production)
    webhook_receiver.delay(1.5)  # applies, then answers late

    started = time.monotonic()
    with pytest.raises(BackendError, match="did not answer") as error:
        backend.deploy(release=release, stage="general_release", traffic_percent=100,
                       idempotency_key="key-1")  # fmt: skip

    assert error.value.transient
    assert time.monotonic() - started < 1.4
    webhook_receiver.delay(0)
    retried = backend.deploy(release=release, stage="general_release", traffic_percent=100,
                             idempotency_key="key-1")  # fmt: skip
    assert retried.detail["replayed"] is True
    assert list(webhook_receiver.applied) == ["key-1"]
    assert webhook_receiver.live_version == "2.0.0"


def test_connection_refused_is_transient(production, release):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    production.backend_type = BackendType.WEBHOOK
    production.backend_config = {"url": f"http://127.0.0.1:{port}/deploy",
                                 "status_url": f"http://127.0.0.1:{port}/status"}  # fmt: skip
    production.backend_secrets = {"signing_secret": SECRET}
    backend = WebhookBackend(production)

    with pytest.raises(BackendError, match="unreachable") as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=5,
                       idempotency_key="key-1")  # fmt: skip
    assert error.value.transient

    with pytest.raises(BackendError, match="unreachable") as error:
        backend.status()
    assert error.value.transient


def test_a_redirect_is_not_followed(backend, webhook_receiver, release):
    webhook_receiver.fail_next(1, status=307)

    with pytest.raises(BackendError, match="redirects are not followed") as error:
        backend.deploy(release=release, stage="shadow", traffic_percent=5,
                       idempotency_key="key-1")  # fmt: skip

    assert not error.value.transient
    assert len(webhook_receiver.calls) == 1


# Status


def test_status_reports_live_and_candidate(backend, webhook_receiver, release):
    webhook_receiver.set_live("1.0.0")
    backend.deploy(release=release, stage="segment_monitoring", traffic_percent=25,
                   idempotency_key="key-1")  # fmt: skip

    status = backend.status()

    assert status.live_version == "1.0.0"
    assert status.candidate_version == "2.0.0"
    assert status.stage == "segment_monitoring"
    assert status.traffic_percent == 25.0
    call = webhook_receiver.calls[-1]
    assert (call.method, call.path, call.body) == ("GET", "/status", b"")
    assert call.signature_ok and "idempotency-key" not in call.headers


def test_status_of_an_empty_platform(backend):
    status = backend.status()

    assert (status.live_version, status.candidate_version, status.traffic_percent) == (
        None, None, None,
    )  # fmt: skip


def test_status_errors_are_classified(backend, webhook_receiver):
    webhook_receiver.fail_next(1, status=503, endpoint="status")
    with pytest.raises(BackendError) as error:
        backend.status()
    assert error.value.transient

    webhook_receiver.fail_next(1, status=404, endpoint="status")
    with pytest.raises(BackendError, match="HTTP 404") as error:
        backend.status()
    assert not error.value.transient


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [("7", 7.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), (None, None)],
)
def test_a_transient_answer_carries_its_retry_after(
    backend, webhook_receiver, retry_after, seconds
):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    webhook_receiver.fail_next(1, status=503, endpoint="status", headers=headers)
    with pytest.raises(BackendError) as error:
        backend.status()
    assert error.value.transient and error.value.retry_after == seconds


def test_the_retry_waits_at_least_what_the_peer_asked():
    asked = BackendError("busy", transient=True, retry_after=30)
    assert all(30 <= tasks._countdown(asked, 1, retries=0) <= 60 for _ in range(50))
    greedy = BackendError("busy", transient=True, retry_after=86_400)
    assert tasks._countdown(greedy, 1, retries=0) == tasks.RETRY_AFTER_MOST
    silent = BackendError("busy", transient=True)
    assert all(0 <= tasks._countdown(silent, 1, retries=0) <= 1 for _ in range(50))


@pytest.mark.parametrize(
    "answer",
    [{"version": "1.0.0"}, {"live_version": 1}, {"live_version": "1.0.0", "traffic_percent": "5"}],
)
def test_a_malformed_status_answer_is_refused(backend, webhook_receiver, answer):
    webhook_receiver.fail_next(1, status=200, body=answer, endpoint="status")

    with pytest.raises(BackendError, match=r"status answer|live_version") as error:
        backend.status()

    assert not error.value.transient


# Configuration


@pytest.mark.parametrize(
    ("config", "secrets", "message"),
    [
        ({"status_url": "https://x.example/status"}, {"signing_secret": "s"}, "url is missing"),
        ({"url": "https://x.example/deploy"}, {"signing_secret": "s"}, "status_url is missing"),
        ({"url": "ftp://x.example/deploy", "status_url": "https://x.example/status"},
         {"signing_secret": "s"}, "must be an http"),
        ({"url": "https:///deploy", "status_url": "https://x.example/status"},
         {"signing_secret": "s"}, "with a host"),
        ({"url": "https://x.example/d", "status_url": "https://x.example/s",
          "timeout_seconds": 0}, {"signing_secret": "s"}, "above 0"),
        ({"url": "https://x.example/d", "status_url": "https://x.example/s",
          "timeout_seconds": "5"}, {"signing_secret": "s"}, "must be a number"),
        ({"url": "https://x.example/d", "status_url": "https://x.example/s",
          "timeout_seconds": True}, {"signing_secret": "s"}, "must be a number"),
        ({"url": "https://x.example/d", "status_url": "https://x.example/s"}, {},
         "signing_secret is missing"),
        ({"url": "https://x.example/d", "status_url": "https://x.example/s"},
         {"signing_secret": ""}, "signing_secret is missing"),
        (["https://x.example/d"], {"signing_secret": "s"}, "must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_configuration_is_a_clear_permanent_error(production, config, secrets, message):
    production.backend_config, production.backend_secrets = config, secrets

    with pytest.raises(BackendError, match=message) as error:
        WebhookBackend(production)

    assert not error.value.transient
    assert str(production) in str(error.value)


def test_a_good_configuration_keeps_its_timeout(production):
    production.backend_config = {"url": "https://x.example/d", "status_url": "https://x.example/s",
                                 "timeout_seconds": 2.5}  # fmt: skip
    production.backend_secrets = {"signing_secret": "s"}

    assert WebhookBackend(production).timeout == 2.5


# Another process


@pytest.mark.django_db(transaction=True)
def test_another_process_reaches_the_receiver_through_the_saved_environment(
    webhook_receiver, production, release
):
    """What a Celery worker does: load the environment from the database, call over HTTP."""
    webhook_receiver.configure(production)
    script = (
        "import django, json, sys; django.setup();"
        "from releases.models import Environment, Release;"
        "from releases.backends.webhook import WebhookBackend;"
        "env = Environment.objects.get(pk=int(sys.argv[1]));"
        "release = Release.objects.get(pk=int(sys.argv[2]));"
        "result = WebhookBackend(env).deploy(release=release, stage='general_release',"
        " traffic_percent=100, idempotency_key='from-worker');"
        "print(json.dumps(result.detail))"
    )
    env = dict(os.environ, DATABASE_URL=worker_database_url(),
               DJANGO_SETTINGS_MODULE="config.settings")  # fmt: skip

    done = subprocess.run(
        [sys.executable, "-c", script, str(production.pk), str(release.pk)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["status_code"] == 200
    assert list(webhook_receiver.applied) == ["from-worker"]
    assert webhook_receiver.calls[0].signature_ok
    assert webhook_receiver.live_version == "2.0.0"

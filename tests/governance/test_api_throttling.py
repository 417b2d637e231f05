"""The API's rate limits: per API token, per user, per address, ROLL BACK NOW on its own; 429
as JSON with Retry-After; counted in Redis and lifted, with a warning, when Redis is not there.

The rates are production's unless a test lowers them (`rates()`), and each test starts with
no request counted (tests/conftest.py)."""

from __future__ import annotations

import base64
import logging
import socket
import time
from typing import Any

import pytest
from axes.models import AccessAttempt
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from config.embedded import EmbeddedRedis
from governance import services
from governance.api.throttling import CallerRateThrottle
from incidents import services as incidents
from releases.models import RollbackRequest, RollbackStatus

pytestmark = pytest.mark.django_db

SYSTEMS = "/api/systems/"
TRIGGER = {"metric": "review_rate", "comparison": ">", "threshold": "2.5", "window_minutes": 15,
           "value": "3.1", "mode": "auto_propose"}  # fmt: skip


def rates(settings: Any, **scopes: str) -> None:
    """Lower some scopes' rates for this test (DRF reloads its settings when they change)."""
    current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**current, **scopes},
    }


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_throttled(response: Any, words: str) -> int:
    """A 429 in the API's error shape that says whose limit, with Retry-After; its seconds."""
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert words in detail, detail
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert f"Try again in {wait} second" in detail
    return wait


def test_past_a_users_limit_the_api_answers_429_json_with_retry_after(settings, client, owner):
    rates(settings, user="3/min")
    client.force_login(owner)
    assert [client.get(SYSTEMS).status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(client.get(SYSTEMS), "from your account: at most 3 a minute")


def test_each_api_token_counts_apart_from_the_other_and_from_its_owner(
    settings, client, owner, fraud
):
    rates(settings, token="2/min", user="5/min")
    _, first = services.create_api_token(actor=owner, system=fraud, name="CI", expires_in_days=30)
    _, second = services.create_api_token(actor=owner, system=fraud, name="CD", expires_in_days=30)
    for _ in range(2):
        assert client.get(SYSTEMS, headers=bearer(first)).status_code == 200
    assert_throttled(client.get(SYSTEMS, headers=bearer(first)), "with this API token")
    # The runaway token spent its own limit only: its sibling and its owner are served.
    assert client.get(SYSTEMS, headers=bearer(second)).status_code == 200
    client.force_login(owner)
    assert client.get(SYSTEMS).status_code == 200


def test_a_basic_sign_in_counts_as_the_user(settings, client, owner):
    rates(settings, user="1/min")
    owner.set_password("pw-for-basic")
    owner.save()
    basic = {"Authorization": "Basic " + base64.b64encode(b"registrar:pw-for-basic").decode()}
    assert client.get(SYSTEMS, headers=basic).status_code == 200
    client.force_login(owner)  # the same account, another way in: the same limit
    assert_throttled(client.get(SYSTEMS), "from your account")


def basic_header(username: str, password: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    }


def test_an_address_trying_many_usernames_is_refused_before_any_password_is_checked(
    settings, client, owner
):
    rates(settings, anon="3/min")
    owner.set_password("pw-for-basic")
    owner.save()
    # A different username each time: the lockout, per username and address, never trips.
    for n in range(3):
        assert client.get(SYSTEMS, headers=basic_header(f"guess{n}", "x")).status_code == 401
    attempts = AccessAttempt.objects.count()

    wait = assert_throttled(
        client.get(SYSTEMS, headers=basic_header("guess3", "x")),
        "Too many failed sign-ins from your address: at most 3 a minute",
    )
    assert 1 <= wait <= 60
    # Refused before the credentials were checked: not even the lockout counted it, and the
    # right password from this address waits too.
    assert AccessAttempt.objects.count() == attempts
    answer = client.get(SYSTEMS, headers=basic_header("registrar", "pw-for-basic"))
    assert answer.status_code == 429
    # Another address is not held by this one's failures.
    other = client.get(
        SYSTEMS, headers=basic_header("registrar", "pw-for-basic"), REMOTE_ADDR="10.9.8.7"
    )
    assert other.status_code == 200


def test_successful_basic_sign_ins_are_not_counted_as_failures(settings, client, owner):
    rates(settings, anon="2/min")
    owner.set_password("pw-for-basic")
    owner.save()
    for _ in range(5):
        assert (
            client.get(SYSTEMS, headers=basic_header("registrar", "pw-for-basic")).status_code
            == 200
        )


class Open(APIView):
    """A view anyone may call: what the address limit guards."""

    permission_classes = [AllowAny]
    throttle_classes = [CallerRateThrottle]

    def get(self, request: Any) -> Response:
        return Response({"ok": True})


def test_anonymous_callers_count_by_the_address_the_trusted_proxy_saw(settings):
    rates(settings, anon="2/min")
    settings.TRUSTED_PROXY_COUNT = 1
    factory = APIRequestFactory()
    view = Open.as_view()

    def call(client_address: str, spoofed: str = "203.0.113.99") -> Any:
        forwarded = f"{spoofed}, {client_address}"  # the client's own entry is not believed
        return view(factory.get("/open/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded))

    assert [call("198.51.100.1").status_code for _ in range(2)] == [200, 200]
    throttled = call("198.51.100.1", spoofed="192.0.2.7")  # another lie changes nothing
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert "from your address" in throttled.data["detail"]
    assert call("198.51.100.2").status_code == 200  # another client behind the same proxy


def test_roll_back_now_is_served_past_the_users_general_limit_and_counts_on_its_own(
    settings, client, successor, production, rollback_owner
):
    rates(settings, user="1/min", rollback="2/min")
    client.force_login(rollback_owner)
    assert client.get(SYSTEMS).status_code == 200
    assert_throttled(client.get(SYSTEMS), "from your account")
    press = f"/api/environments/{production.pk}/rollback/"
    body = {"reason": "review rate 3x"}
    first = client.post(press, body, content_type="application/json")
    assert first.status_code == 202, first.content
    again = client.post(press, body, content_type="application/json")
    assert again.status_code == 200  # the rollback already active
    assert_throttled(
        client.post(press, body, content_type="application/json"), "to roll back or confirm"
    )
    assert RollbackRequest.objects.count() == 1


def test_confirming_a_proposed_rollback_is_served_past_the_users_general_limit(
    settings, client, incident, earlier, rollback_owner
):
    proposal, _ = incidents.roll_back_incident(
        actor=None, incident=incident, reason="The rollback plan's trigger held.",
        trigger=TRIGGER, propose=True,
    )  # fmt: skip
    rates(settings, user="1/min")
    client.force_login(rollback_owner)
    client.get(SYSTEMS)
    assert client.get(SYSTEMS).status_code == 429
    confirmed = client.post(f"/api/rollbacks/{proposal.pk}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == RollbackStatus.REQUESTED


def test_with_redis_refusing_requests_are_served_and_a_warning_is_logged(
    settings, client, owner, caplog, tmp_path
):
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {**settings.CACHES["throttle"], "LOCATION": f"unix://{tmp_path}/none.sock"},
    }
    rates(settings, user="1/min")
    client.force_login(owner)
    with caplog.at_level(logging.WARNING, logger="failsafe.throttle"):
        assert [client.get(SYSTEMS).status_code for _ in range(3)] == [200, 200, 200]
    lifted = [r for r in caplog.records if r.name == "failsafe.throttle"]
    assert len(lifted) == 1  # once, then the limits stay lifted a while without asking
    assert "Rate limits lifted" in lifted[0].getMessage()


def test_a_redis_that_never_answers_costs_a_request_a_quarter_second_once(
    settings, client, owner, caplog
):
    with socket.socket() as silent:  # accepts (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings.CACHES = {
            **settings.CACHES,
            "throttle": {**settings.CACHES["throttle"], "LOCATION": f"redis://127.0.0.1:{port}"},
        }
        client.force_login(owner)
        with caplog.at_level(logging.WARNING, logger="failsafe.throttle"):
            started = time.monotonic()
            assert client.get(SYSTEMS).status_code == 200
            first = time.monotonic() - started
            assert client.get(SYSTEMS).status_code == 200
    assert 0.2 <= first < 2.0, first  # the socket timeout, then served
    # Not asked (nor waited for) again: the second request found the limits lifted.
    lifted = [r for r in caplog.records if "Rate limits lifted" in r.getMessage()]
    assert len(lifted) == 1, lifted


def test_a_check_is_one_transaction_and_reads_nothing_back(settings, client, owner, tmp_path):
    """SET NX, INCR and TTL in one MULTI/EXEC, sent together: one round trip a request,
    and never the GET and SET of a list of times (DRF's SimpleRateThrottle). On a Redis of
    its own: a Celery worker on the suite's would add its commands to the count."""
    from django.core.cache import caches

    own = EmbeddedRedis.start(tmp_path / "redis", persist=False)
    try:
        settings.CACHES = {
            **settings.CACHES,
            "throttle": {**settings.CACHES["throttle"], "LOCATION": own.cache_url()},
        }
        redis = caches["throttle"]._cache.get_client(write=True)
        client.force_login(owner)
        client.get(SYSTEMS)
        before = redis.info("commandstats")
        client.get(SYSTEMS)
        after = redis.info("commandstats")
    finally:
        own.stop()
    calls = {
        name.removeprefix("cmdstat_"): stats["calls"] - before.get(name, {"calls": 0})["calls"]
        for name, stats in after.items()
    }
    calls.pop("info", None)
    assert {name: n for name, n in calls.items() if n} == {
        "multi": 1, "set": 1, "incrby": 1, "ttl": 1, "exec": 1,  # redis-py INCRs by INCRBY 1
    }  # fmt: skip


def test_a_machine_credential_without_a_user_counts_as_a_token(settings, owner, fraud):
    """An MLflow webhook secret speaks for its system, not for a person: its deliveries
    count against a token's rate, in a bucket of their own."""
    from releases.services import intake

    rates(settings, token="1/min", anon="100/min")
    secret, _ = intake.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    other, _ = intake.create_webhook_secret(actor=owner, system=fraud, name="MLflow staging")
    factory = APIRequestFactory()
    view = Open.as_view()

    def deliver(credential: Any) -> Any:
        request = factory.get("/open/")
        force_authenticate(request, user=None, token=credential)
        return view(request)

    assert deliver(secret).status_code == 200
    refused = deliver(secret)
    assert refused.status_code == 429 and "with this credential" in refused.data["detail"]
    assert deliver(other).status_code == 200

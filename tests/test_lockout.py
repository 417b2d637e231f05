"""Sign-in lockout (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one username from
one address lock that pair out for LOGIN_LOCKOUT_MINUTES, on every way in that takes one."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.sites import site
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

LIMIT = settings.AXES_FAILURE_LIMIT
LOCKED_MESSAGE = "Too many failed sign-ins for this username from your address"

pytestmark = pytest.mark.django_db


def _login(client, username: str, password: str, **extra):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password}, **extra)


def _fail(client, username: str, times: int = LIMIT, **extra):  # type: ignore[no-untyped-def]
    for _ in range(times):
        response = _login(client, username, "wrong password", **extra)
    return response


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def test_the_suite_runs_with_lockout_on():
    assert settings.AXES_ENABLED is True
    assert LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_wrong_passwords_below_the_limit_only_say_they_do_not_match(client, owner):
    response = _fail(client, owner.username, times=LIMIT - 1)

    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()


def test_it_locks_out_at_the_limit_with_a_page_that_says_why(client, owner):
    response = _fail(client, owner.username)

    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED_MESSAGE in page
    assert "Try again in 15 minutes" in page
    assert 'name="password"' in page  # the login page itself, not a bare error
    assert response["Retry-After"] == "900"


def test_the_right_password_is_refused_while_locked_out(client, owner):
    _fail(client, owner.username)

    response = _login(client, owner.username, PASSWORD)

    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_right_password_works_once_the_cool_off_has_passed(client, owner):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _fail(client, owner.username)
        clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=30))
        assert _login(client, owner.username, PASSWORD).status_code == 429

        # A try while locked out starts the cool-off again (axes' default): wait it out in full.
        clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        response = _login(client, owner.username, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_other_users_and_other_addresses_are_not_locked_out(client, owner):
    colleague = UserFactory(username="colleague")
    _fail(client, owner.username)

    assert _login(client, colleague.username, PASSWORD).status_code == 302
    client.logout()
    # The same username from another address: the lockout is per username and address.
    assert _login(client, owner.username, PASSWORD, REMOTE_ADDR="10.0.0.7").status_code == 302


def test_a_success_clears_the_failures_before_it(client, owner):
    _fail(client, owner.username, times=LIMIT - 1)
    assert _login(client, owner.username, PASSWORD).status_code == 302
    client.logout()

    response = _fail(client, owner.username, times=LIMIT - 1)

    assert response.status_code == 200  # counting starts again from zero


def test_the_api_basic_auth_locks_out_with_a_json_answer(client, owner):
    for _ in range(LIMIT - 1):
        response = client.get("/api/systems/", **_basic(owner.username, "wrong"))
        assert response.status_code == 401
    response = client.get("/api/systems/", **_basic(owner.username, "wrong"))

    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.json()["detail"]
    right = client.get("/api/systems/", **_basic(owner.username, PASSWORD))
    assert right.status_code == 429
    assert int(right["Retry-After"]) == 900


def test_the_api_basic_auth_clears_failures_on_success(client, owner):
    for _ in range(LIMIT - 1):
        client.get("/api/systems/", **_basic(owner.username, "wrong"))

    assert client.get("/api/systems/", **_basic(owner.username, PASSWORD)).status_code == 200
    assert not AccessAttempt.objects.filter(username=owner.username).exists()


def test_the_admin_login_is_locked_out_too(client, owner):
    for _ in range(LIMIT):
        response = client.post("/admin/login/", {"username": owner.username, "password": "wrong"})

    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()


def test_an_admin_can_unlock_from_the_admin(client, owner):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _fail(client, owner.username)
    attempt = AccessAttempt.objects.get(username=owner.username)
    assert AccessAttempt in site._registry

    staff = client.__class__()
    staff.force_login(admin)
    response = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _login(client, owner.username, PASSWORD).status_code == 302


def test_behind_the_proxy_each_client_address_has_its_own_count(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # every request comes from the proxy, 127.0.0.1
    _fail(client, owner.username, HTTP_X_FORWARDED_FOR="203.0.113.5")

    # What the client wrote before the proxy's entry is not believed: still 203.0.113.5.
    spoofed = "198.51.100.7, 203.0.113.5"
    response = _login(client, owner.username, PASSWORD, HTTP_X_FORWARDED_FOR=spoofed)
    assert response.status_code == 429
    # The same username from another client behind the same proxy still signs in.
    response = _login(client, owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 302


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(client, owner, settings):
    assert settings.TRUSTED_PROXY_COUNT == 0
    _fail(client, owner.username, HTTP_X_FORWARDED_FOR="203.0.113.5")

    response = _login(client, owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 429  # both came from the peer, 127.0.0.1

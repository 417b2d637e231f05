"""Signing in through the identity provider (governance.services.sign_in) and the password
sign-in switch, without a browser; tests/browser/test_sso.py runs both against a real
provider."""

from __future__ import annotations

from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured

from config.sso_settings import parse_group_map
from governance import services
from governance.models import AuditEvent, IdentityLink
from governance.permissions import can
from governance.roles import Action, Role
from governance.services.sign_in import SignInRefused, sign_in_with_idp
from governance.sso.provider import Provider, forget_discovery
from tests.factories import PASSWORD, UserFactory
from tests.fixtures.mlflow_server import free_port

GROUP_MAP = {"sre-oncall": ("fraud-oncall",), "sre": ("fraud-responders",)}


@pytest.fixture
def mapped(settings, owner, fraud):  # type: ignore[no-untyped-def]
    settings.OIDC_GROUP_MAP = GROUP_MAP
    oncall = Group.objects.create(name="fraud-oncall")
    services.grant_role(actor=owner, system=fraud, role=Role.ONCALL_LEAD, group=oncall)


def claims(username: str = "olive", groups: list[str] | None = None) -> dict[str, object]:
    return {
        "sub": f"sub-{username}", "preferred_username": username, "email": f"{username}@idp.test",
        "name": "Olive Van Oncall", "groups": groups or [],
    }  # fmt: skip


def test_it_reads_the_group_map() -> None:
    assert parse_group_map("sre=fraud-oncall, sre=audit ,ops=ops-team,") == {
        "sre": ("fraud-oncall", "audit"),
        "ops": ("ops-team",),
    }
    assert parse_group_map("") == {}
    with pytest.raises(ImproperlyConfigured, match="idp-group=failsafe-group"):
        parse_group_map("sre")


def test_it_creates_the_account_at_first_sign_in(mapped, fraud) -> None:  # type: ignore[no-untyped-def]
    user = sign_in_with_idp(claims=claims(groups=["sre-oncall", "unmapped"]))
    assert user.username == "olive"
    assert (user.first_name, user.last_name) == ("Olive Van", "Oncall")
    assert user.email == "olive@idp.test"
    assert not user.has_usable_password()
    assert can(user, Action.REQUEST_ROLLBACK, fraud)
    event = AuditEvent.objects.get(action="user.created_at_sign_in")
    assert event.after == {"email": "olive@idp.test", "name": "Olive Van Oncall",
                           "groups": ["fraud-oncall"]}  # fmt: skip
    assert event.system is None


def test_it_takes_the_group_and_its_roles_away_at_the_next_sign_in(mapped, fraud) -> None:  # type: ignore[no-untyped-def]
    user = sign_in_with_idp(claims=claims(groups=["sre-oncall"]))
    handmade = Group.objects.create(name="given-by-hand")
    user.groups.add(handmade)

    again = sign_in_with_idp(claims=claims(groups=["sre"]))
    assert again.pk == user.pk
    assert sorted(again.groups.values_list("name", flat=True)) == [
        "fraud-responders",
        "given-by-hand",
    ]
    assert not can(again, Action.REQUEST_ROLLBACK, fraud)
    event = AuditEvent.objects.filter(action="user.updated_at_sign_in").get()
    assert event.before["groups"] == ["fraud-oncall", "given-by-hand"]
    assert event.after["groups"] == ["fraud-responders", "given-by-hand"]


def test_it_writes_no_event_when_nothing_changed(mapped) -> None:  # type: ignore[no-untyped-def]
    sign_in_with_idp(claims=claims(groups=["sre-oncall"]))
    sign_in_with_idp(claims=claims(groups=["sre-oncall"]))
    assert not AuditEvent.objects.filter(action="user.updated_at_sign_in").exists()


def test_it_refuses_a_break_glass_superuser(db) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="root", is_superuser=True, is_staff=True)
    with pytest.raises(SignInRefused, match="break-glass administrator"):
        sign_in_with_idp(claims=claims("root"))


def test_it_refuses_a_deactivated_account(db) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="gone", is_active=False)
    with pytest.raises(SignInRefused, match="deactivated"):
        sign_in_with_idp(claims=claims("gone"))


def test_it_refuses_claims_without_a_username(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInRefused, match="no preferred_username"):
        sign_in_with_idp(claims={"email": "x@idp.test"})
    assert not get_user_model().objects.exists()


def test_the_admin_refuses_passwords_but_a_superusers_when_turned_off(db, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_LOGIN = False
    UserFactory(username="staffer", is_staff=True)
    UserFactory(username="root", is_superuser=True, is_staff=True)
    response = client.post("/admin/login/", {"username": "staffer", "password": PASSWORD})
    assert response.status_code == 200
    assert "Password sign-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302


def test_a_wrong_password_is_still_just_wrong_when_turned_off(db, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_LOGIN = False
    UserFactory(username="vic")
    response = client.post("/login/", {"username": "vic", "password": "wrong"})
    body = response.content.decode()
    assert "do not match an active account" in body
    assert "turned off" not in body


def test_the_single_sign_on_routes_are_not_found_when_not_configured(db, client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/login/sso/").status_code == 404
    assert client.get("/login/sso/callback/?code=x&state=y").status_code == 404


def test_failed_provider_callbacks_neither_fail_with_500_nor_lock_anyone_out(db, client, settings):  # type: ignore[no-untyped-def]
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    forget_discovery()
    for attempt in range(settings.AXES_FAILURE_LIMIT + 2):
        session = client.session
        session["oidc_states"] = {f"state{attempt}": {"nonce": "n", "code_verifier": "v"}}
        session.save()
        response = client.get("/login/sso/callback/", {"code": "c", "state": f"state{attempt}"})
        assert response.status_code == 502
        assert "cannot be reached right now" in response.content.decode()
    forget_discovery()
    UserFactory(username="vic")
    assert client.post("/login/", {"username": "vic", "password": PASSWORD}).status_code == 302


def _signed_in_through_the_provider(client, settings):  # type: ignore[no-untyped-def]
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = "https://idp.test"
    settings.OIDC_RP_CLIENT_ID = "failsafe"
    client.force_login(UserFactory(username="olive"))
    session = client.session
    session["oidc_id_token"] = "the-id-token"
    session.save()


def provider(end_session_endpoint):  # type: ignore[no-untyped-def]
    return Provider(
        issuer="https://idp.test", authorization_endpoint="https://idp.test/auth",
        token_endpoint="https://idp.test/token", userinfo_endpoint="https://idp.test/me",
        jwks_uri="https://idp.test/jwks", end_session_endpoint=end_session_endpoint,
    )  # fmt: skip


def test_sign_out_ends_the_providers_session_where_it_can(db, client, settings):  # type: ignore[no-untyped-def]
    _signed_in_through_the_provider(client, settings)
    with mock.patch(
        "governance.sso.views.discover", return_value=provider("https://idp.test/logout")
    ):
        response = client.post("/logout/")
    target = urlsplit(response["Location"])
    assert (target.netloc, target.path) == ("idp.test", "/logout")
    assert parse_qs(target.query) == {
        "id_token_hint": ["the-id-token"],
        "client_id": ["failsafe"],
        "post_logout_redirect_uri": ["http://testserver/login/"],
    }
    assert "_auth_user_id" not in client.session


def test_sign_out_stays_local_where_the_provider_cannot_end_its_session(db, client, settings):  # type: ignore[no-untyped-def]
    _signed_in_through_the_provider(client, settings)
    with mock.patch("governance.sso.views.discover", return_value=provider(None)):
        response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_it_finds_the_account_by_subject_not_by_a_username_that_changed(mapped, settings) -> None:  # type: ignore[no-untyped-def]
    user = sign_in_with_idp(claims=claims("olive"))
    renamed = {**claims("olive"), "preferred_username": "olive.vanoncall"}
    assert sign_in_with_idp(claims=renamed).pk == user.pk
    assert IdentityLink.objects.get(user=user).subject == "sub-olive"


def test_a_rename_at_the_provider_does_not_take_over_anothers_account(mapped) -> None:  # type: ignore[no-untyped-def]
    victim = sign_in_with_idp(claims=claims("olive"))
    impostor = {**claims("mallory"), "preferred_username": "olive"}
    with pytest.raises(SignInRefused, match="belongs to another person"):
        sign_in_with_idp(claims=impostor)
    assert list(IdentityLink.objects.values_list("user", "subject")) == [(victim.pk, "sub-olive")]


def test_a_password_account_is_linked_only_once_its_password_is_turned_off(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OIDC_ISSUER = "https://idp.test"
    local = UserFactory(username="olive")
    with pytest.raises(SignInRefused, match="signs in with a password"):
        sign_in_with_idp(claims=claims("olive"))
    assert not IdentityLink.objects.exists()
    assert local.check_password(PASSWORD)

    local.set_unusable_password()
    local.save()
    assert sign_in_with_idp(claims=claims("olive")).pk == local.pk
    event = AuditEvent.objects.get(action="user.linked_at_sign_in")
    assert event.after == {"issuer": "https://idp.test", "subject": "sub-olive"}


def test_it_refuses_claims_without_a_subject(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInRefused, match="subject"):
        sign_in_with_idp(claims={"preferred_username": "olive"})
    assert not get_user_model().objects.exists()

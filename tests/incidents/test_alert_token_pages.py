"""Alert-token pages: owners list, create (the secret shown once) and revoke tokens."""

from __future__ import annotations

import re

import pytest

from governance.models import AuditEvent
from governance.tokens import digest_of
from incidents.models import AlertToken
from incidents.services.alert_tokens import create_alert_token
from tests.incidents.alerts import alertmanager, post
from tests.matrix import OWNERS, Route

PAGE = "/systems/fraud/alert-tokens/"
SECRET = re.compile(r"fsa_[A-Za-z0-9_-]{40,}")


def secrets_in(response) -> set[str]:  # type: ignore[no-untyped-def]
    return set(SECRET.findall(response.content.decode()))


@pytest.mark.django_db
def test_owners_see_the_tokens_of_their_system(client, owner, fraud):
    token, _ = create_alert_token(actor=owner, system=fraud, name="Alertmanager prod")
    client.force_login(owner)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alertmanager prod" in html and f"{token.prefix}…" in html
    assert "never" in html and "Active" in html
    assert "http://testserver/api/alerts/alertmanager/" in html
    assert "http_config:" in html and "credentials:" in html
    assert secrets_in(response) == set()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["viewer", "responder", "oncall_lead", "compliance"])
def test_others_who_see_the_system_are_refused(client, fraud, owner, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}new/", {"name": "Mine"}).status_code == 403
    assert not AlertToken.objects.exists()


@pytest.mark.django_db
def test_systems_one_cannot_see_do_not_exist(client, owner, fraud, outsider, other_system):
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 404
    client.force_login(owner)
    assert client.get("/systems/hidden/alert-tokens/").status_code == 404
    assert client.post("/systems/hidden/alert-tokens/new/", {"name": "x"}).status_code == 404
    assert not AlertToken.objects.exists()


@pytest.mark.django_db
def test_the_secret_is_shown_once_and_never_stored(client, owner, fraud):
    client.force_login(owner)
    response = client.post(f"{PAGE}new/", {"name": "Alertmanager"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    (secret,) = secrets_in(response)
    html = response.content.decode()
    assert "it will not be shown again" in html
    assert f'credentials: <mark class="tok-inline-secret">{secret}</mark>' in html
    token = AlertToken.objects.get()
    assert token.digest == digest_of(secret) and token.prefix == secret[:10]
    # Not in the database (token row, audit trail, sessions), not in a later page.
    stored = [str(getattr(token, field.attname)) for field in AlertToken._meta.concrete_fields]
    assert not any(secret in value for value in stored)
    audit = AuditEvent.objects.filter(action="alert_token.created").get()
    assert secret not in f"{audit.before} {audit.after} {audit.object_repr}"
    assert all(secret not in str(value) for value in client.session.values())
    assert all(secret not in cookie.value for cookie in client.cookies.values())
    later = client.get(PAGE)
    assert later.status_code == 200 and secrets_in(later) == set()
    assert "Alertmanager" in later.content.decode()


@pytest.mark.django_db
def test_a_created_token_is_accepted_and_a_revoked_one_refused(client, owner, fraud, production):
    client.force_login(owner)
    (secret,) = secrets_in(client.post(f"{PAGE}new/", {"name": "Alertmanager"}))
    client.logout()
    accepted = post(client, "/api/alerts/alertmanager/", alertmanager(), secret)
    assert accepted.status_code == 202, accepted.content
    token = AlertToken.objects.get()
    token.refresh_from_db()
    assert token.last_used_at is not None

    client.force_login(owner)
    confirm = client.get(f"{PAGE}{token.pk}/revoke/")
    assert confirm.status_code == 200
    assert f"Revoke {token.name}" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # asking is not revoking
    revoked = client.post(f"{PAGE}{token.pk}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == PAGE
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "is revoked" in client.get(PAGE).content.decode()

    client.logout()
    refused = post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="beef"), secret)
    assert refused.status_code == 401
    assert AuditEvent.objects.filter(action="alert_token.revoked").count() == 1


@pytest.mark.django_db
def test_revoking_twice_is_a_400_with_the_reason(client, owner, fraud):
    token, _ = create_alert_token(actor=owner, system=fraud, name="Old")
    client.force_login(owner)
    assert client.post(f"{PAGE}{token.pk}/revoke/").status_code == 302
    again = client.post(f"{PAGE}{token.pk}/revoke/")
    assert again.status_code == 400
    assert "The token is already revoked." in again.content.decode()
    assert AuditEvent.objects.filter(action="alert_token.revoked").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("x" * 81, "at most 80 characters")],
)
def test_a_bad_name_is_a_400_and_creates_nothing(client, owner, fraud, name, message):
    client.force_login(owner)
    response = client.post(f"{PAGE}new/", {"name": name})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert secrets_in(response) == set()
    assert not AlertToken.objects.exists()


@pytest.mark.django_db
def test_a_token_of_another_system_is_not_found_here(client, owner, fraud, other_system):
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.get(username="stranger")
    foreign, _ = create_alert_token(actor=stranger, system=other_system, name="Theirs")
    client.force_login(owner)
    assert client.get(f"{PAGE}{foreign.pk}/revoke/").status_code == 404
    assert client.post(f"{PAGE}{foreign.pk}/revoke/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


# The role matrix calls these in `alert_tokens_world` (tests/worlds/alert_tokens.py).
TEST_ALERT = {"environment": "{production}"}
ROUTES = [
    Route("token list", "GET", PAGE, OWNERS),
    Route("create a token", "POST", f"{PAGE}new/", OWNERS, ok=201, data={"name": "Prometheus"}),
    Route("confirm revoking", "GET", PAGE + "{token}/revoke/", OWNERS),
    Route("revoke a token", "POST", PAGE + "{token}/revoke/", OWNERS, ok=302),
    Route("send a test alert", "POST", f"{PAGE}test/", OWNERS, ok=302, data=TEST_ALERT),
]

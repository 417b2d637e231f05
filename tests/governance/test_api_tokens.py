"""API tokens: hashed at rest, shown once, revocable, scoped to one system.

A token (Authorization: Bearer fsk_…) acts as its owner with the roles the owner holds on
the token's one system at the time of each request; other systems do not exist for it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance import services
from governance.audit.chain import chain_name, seal_pending
from governance.audit.verify_chain import verify_all
from governance.models import AISystem, ApiToken, AuditEvent
from governance.roles import Role
from governance.tokens import digest_of
from incidents.services.alert_tokens import create_alert_token
from tests.factories import PASSWORD, UserFactory
from tests.matrix import EVERYONE, OWNERS, Route

PAGE = "/api-tokens/"
SYSTEM_PAGE = "/systems/fraud/api-tokens/"
SECRET = re.compile(r"fsk_[A-Za-z0-9_-]{40,}")


def secrets_in(response) -> set[str]:  # type: ignore[no-untyped-def]
    return set(SECRET.findall(response.content.decode()))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token_for(user, system, name: str = "CI", days: int | None = 30) -> tuple[ApiToken, str]:  # type: ignore[no-untyped-def]
    return services.create_api_token(actor=user, system=system, name=name, expires_in_days=days)


@pytest.fixture
def chatbot(registrar) -> AISystem:
    """A second system the registrar owns: the owner holds roles on two systems."""
    return services.create_system(
        actor=registrar,
        name="Support chatbot",
        slug="chatbot",
        intended_purpose="Answers customers.",
        risk_category="limited",
    )


def _created_secret(client, system: AISystem, name: str = "CI", expires: str = "30") -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{PAGE}new/", {"name": name, "system": system.pk, "expires_in": expires}
    )
    assert response.status_code == 201, response.content
    (secret,) = secrets_in(response)
    return secret


# --- the pages: created, shown once, kept as a hash -------------------------------------------


@pytest.mark.django_db
def test_the_secret_is_shown_once_and_kept_only_as_a_hash(client, owner, fraud):
    client.force_login(owner)
    response = client.post(f"{PAGE}new/", {"name": "CI", "system": fraud.pk, "expires_in": "90"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    (secret,) = secrets_in(response)
    html = response.content.decode()
    assert "it will not be shown again" in html and 'data-copy="#new-token"' in html
    token = ApiToken.objects.get()
    assert (token.owner, token.system, token.name) == (owner, fraud, "CI")
    assert token.digest == digest_of(secret) and token.prefix == secret[:10]
    assert secret.startswith("fsk_") and len(secret) >= 44
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    # No column of the token, and no row of any table, holds the secret.
    stored = [str(getattr(token, field.attname)) for field in ApiToken._meta.concrete_fields]
    assert not any(secret in value for value in stored)
    with connection.cursor() as cursor:
        leaking = []
        for table in connection.introspection.table_names(cursor):
            query = f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s'
            cursor.execute(query, [f"%{secret}%"])
            if cursor.fetchone()[0]:
                leaking.append(table)
    assert leaking == []
    assert all(secret not in str(value) for value in client.session.values())
    # Reloading the page lists the token, without its secret.
    later = client.get(PAGE)
    assert later.status_code == 200 and secrets_in(later) == set()
    later_html = later.content.decode()
    assert "CI" in later_html and f"{token.prefix}…" in later_html and "Active" in later_html


@pytest.mark.django_db
def test_the_page_lists_ones_tokens_with_their_state(client, owner, fraud, chatbot, viewer):
    token_for(owner, fraud, "deploy bot", days=None)
    gone, _ = token_for(owner, chatbot, "old laptop")
    services.revoke_api_token(actor=owner, token=gone)
    theirs, _ = token_for(viewer, fraud, "vic script")
    client.force_login(owner)
    html = client.get(PAGE).content.decode()
    assert "deploy bot" in html and "old laptop" in html and "vic script" not in html
    assert "Card fraud screening" in html and "Support chatbot" in html
    assert "Revoked" in html and "never" in html and "1 active" in html
    assert f"{theirs.prefix}…" not in html
    # The form offers only the systems the user holds a role on.
    assert f'value="{fraud.pk}"' in html and f'value="{chatbot.pk}"' in html


@pytest.mark.django_db
def test_an_expired_token_is_listed_as_expired(client, owner, fraud):
    token_for(owner, fraud, "short-lived", days=7)
    client.force_login(owner)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        html = client.get(PAGE).content.decode()
        # Its name is free again: only live tokens must have distinct names.
        token_for(owner, fraud, "short-lived")
    assert "tok-status is-expired" in html and "0 active" in html


@pytest.mark.django_db
def test_the_page_is_reachable_from_the_navigation(client, viewer):
    client.force_login(viewer)
    html = client.get("/systems/").content.decode()
    assert f'href="{PAGE}"' in html


@pytest.mark.django_db
def test_an_htmx_create_answers_the_panel_with_the_secret(client, owner, fraud):
    client.force_login(owner)
    response = client.post(
        f"{PAGE}new/",
        {"name": "CI", "system": fraud.pk, "expires_in": "7"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 201
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="api-tokens"') and "<html" not in html
    assert len(secrets_in(response)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"name": "", "expires_in": "30"}, "This field is required."),
        ({"name": "x" * 81, "expires_in": "30"}, "at most 80 characters"),
        ({"name": "CI", "expires_in": "5"}, "Select a valid choice"),
        ({"name": "CI", "expires_in": "forever"}, "Select a valid choice"),
        ({"name": "CI", "expires_in": "30", "system": "hidden"}, "Select a valid choice"),
        ({"name": "CI", "expires_in": "30", "system": ""}, "This field is required."),
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(
    client, owner, fraud, other_system, data, field_message
):
    system = {"hidden": other_system.pk, "": ""}.get(data.get("system", "fraud"), fraud.pk)
    client.force_login(owner)
    response = client.post(f"{PAGE}new/", {**data, "system": system})
    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert secrets_in(response) == set()
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="api_token.").exists()


@pytest.mark.django_db
def test_the_service_refuses_a_system_without_a_role_and_bad_expiry(owner, fraud, other_system):
    with pytest.raises(ValidationError) as refused:
        token_for(owner, other_system)
    assert "no role on this system" in str(refused.value.message_dict["system"])
    with pytest.raises(ValidationError) as refused:
        token_for(owner, fraud, days=1000)
    assert "expires_in" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        token_for(owner, fraud, name="   ")
    assert "name" in refused.value.message_dict
    token_for(owner, fraud, name="CI")
    with pytest.raises(ValidationError) as refused:
        token_for(owner, fraud, name="ci")
    assert "already have a live token" in str(refused.value.message_dict["name"])
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_a_superuser_without_a_role_cannot_create_one(fraud):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    with pytest.raises(ValidationError):
        token_for(admin, fraud)
    assert not ApiToken.objects.exists()


# --- revoking --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoking_asks_then_revokes_and_the_token_is_refused(client, owner, fraud):
    client.force_login(owner)
    secret = _created_secret(client, fraud)
    token = ApiToken.objects.get()
    assert client.get("/api/systems/", headers=bearer(secret)).status_code == 200

    confirm = client.get(f"{PAGE}{token.pk}/revoke/")
    assert confirm.status_code == 200 and "Revoke CI" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # asking is not revoking
    revoked = client.post(f"{PAGE}{token.pk}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == PAGE
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == owner
    assert "is revoked" in client.get(PAGE).content.decode()

    client.logout()
    refused = client.get("/api/systems/", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "This API token has been revoked."}
    assert refused["WWW-Authenticate"].startswith("Bearer")
    again = client.post(f"{PAGE}{token.pk}/revoke/")
    assert again.status_code == 302  # signed out: to the login form, nothing revoked twice
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


@pytest.mark.django_db
def test_revoking_twice_is_a_400_with_the_reason(client, owner, fraud):
    token, _ = token_for(owner, fraud)
    client.force_login(owner)
    assert client.post(f"{PAGE}{token.pk}/revoke/").status_code == 302
    again = client.post(f"{PAGE}{token.pk}/revoke/", headers={"HX-Request": "true"})
    assert again.status_code == 400
    assert "The token is already revoked." in again.content.decode()
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


@pytest.mark.django_db
def test_an_htmx_revoke_answers_the_panel(client, owner, fraud):
    token, _ = token_for(owner, fraud)
    client.force_login(owner)
    response = client.post(f"{PAGE}{token.pk}/revoke/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="api-tokens"') and "is revoked" in html


@pytest.mark.django_db
def test_someone_elses_token_is_not_found_on_ones_own_page(client, owner, fraud, viewer):
    theirs, _ = token_for(viewer, fraud)
    client.force_login(owner)
    assert client.get(f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.django_db
def test_system_owners_see_and_revoke_the_tokens_on_their_system(client, owner, fraud, viewer):
    theirs, secret = token_for(viewer, fraud, "vic script")
    client.force_login(owner)
    page = client.get(SYSTEM_PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "vic script" in html and f"{theirs.prefix}…" in html and secrets_in(page) == set()
    assert f'href="{SYSTEM_PAGE}"' in client.get("/systems/fraud/").content.decode()
    response = client.post(f"{SYSTEM_PAGE}{theirs.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == SYSTEM_PAGE
    theirs.refresh_from_db()
    assert theirs.revoked_by == owner
    client.logout()
    assert client.get("/api/systems/", headers=bearer(secret)).status_code == 401
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert event.actor == owner and event.system == fraud
    assert event.after["owner"] == "vic" and event.after["status"] == "revoked"


@pytest.mark.django_db
def test_the_service_lets_only_the_owner_or_the_systems_owners_revoke(
    owner, fraud, viewer, responder
):
    theirs, _ = token_for(viewer, fraud)
    with pytest.raises(PermissionDenied):
        services.revoke_api_token(actor=responder, token=theirs)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    services.revoke_api_token(actor=viewer, token=theirs)


# --- the API: 401s, last use, scope -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer fsk_" + "x" * 43, "Unknown API token."),
        ("Bearer nonsense", "Unknown API token."),
        ("Bearer", None),
        ("Bearer a b", "Send exactly one token: Authorization: Bearer fsk_…."),
    ],
)
def test_unknown_tokens_get_401_json(client, fraud, header, detail):
    response = client.get("/api/systems/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    if detail is not None:
        assert response.json() == {"detail": detail}


@pytest.mark.django_db
def test_an_expired_token_gets_401_json(client, owner, fraud):
    _, secret = token_for(owner, fraud, days=7)
    with time_machine.travel(timezone.now() + timedelta(days=6), tick=False):
        assert client.get("/api/systems/", headers=bearer(secret)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1), tick=False):
        response = client.get("/api/systems/", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API token expired at ")
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


@pytest.mark.django_db
def test_a_deactivated_owners_token_gets_401(client, viewer, fraud):
    _, secret = token_for(viewer, fraud)
    viewer.is_active = False
    viewer.save()
    response = client.get("/api/systems/", headers=bearer(secret))
    assert response.status_code == 401 and "deactivated" in response.json()["detail"]


@pytest.mark.django_db
def test_an_alert_token_is_not_an_api_token_nor_the_reverse(client, owner, fraud):
    _, alert_secret = create_alert_token(actor=owner, system=fraud, name="Alertmanager")
    response = client.get("/api/systems/", headers=bearer(alert_secret))
    assert response.status_code == 401 and "alert token" in response.json()["detail"]
    _, api_secret = token_for(owner, fraud)
    intake = client.post(
        "/api/alerts/", data=json.dumps({}), content_type="application/json",
        headers=bearer(api_secret),
    )  # fmt: skip
    assert intake.status_code == 401


@pytest.mark.django_db
def test_tokens_do_not_open_the_pages(client, owner, fraud):
    _, secret = token_for(owner, fraud)
    response = client.get("/systems/fraud/", headers=bearer(secret))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get(PAGE, headers=bearer(secret)).status_code == 302


@pytest.mark.django_db
def test_last_use_is_written_at_most_once_a_minute(client, owner, fraud):
    token, secret = token_for(owner, fraud)
    assert token.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/api/systems/", headers=bearer(secret)).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/systems/", headers=bearer(secret)).status_code == 200
        assert not [q for q in captured if q["sql"].startswith('UPDATE "governance_apitoken"')]
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert client.get("/api/systems/", headers=bearer(secret)).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == start + timedelta(minutes=2)


@pytest.mark.django_db
def test_a_token_sees_its_system_only_though_its_owner_holds_roles_on_others(
    client, owner, fraud, chatbot
):
    _, secret = token_for(owner, fraud)
    headers = bearer(secret)
    # Signed in, the owner sees both systems and both audit trails.
    client.force_login(owner)
    listed = client.get("/api/systems/").json()["results"]
    assert {system["slug"] for system in listed} == {"fraud", "chatbot"}
    client.logout()

    systems = client.get("/api/systems/", headers=headers).json()
    assert [s["slug"] for s in systems["results"]] == ["fraud"]
    assert client.get("/api/systems/fraud/", headers=headers).status_code == 200
    assert client.get("/api/systems/chatbot/", headers=headers).status_code == 404
    assert client.get("/api/systems/chatbot/roles/", headers=headers).status_code == 404
    assert client.get("/api/systems/chatbot/evidence/", headers=headers).status_code == 404
    assert client.get("/api/systems/chatbot/gate-policy/", headers=headers).status_code == 404
    renamed = client.patch(
        "/api/systems/chatbot/", data={"name": "Taken over"}, content_type="application/json",
        headers=headers,
    )  # fmt: skip
    assert renamed.status_code == 404
    chatbot.refresh_from_db()
    assert chatbot.name == "Support chatbot"
    events = client.get("/api/audit-events/?limit=500", headers=headers).json()["results"]
    assert events and {event["system"] for event in events} == {"fraud"}
    # Nor can it register a new system, though its owner may.
    created = client.post(
        "/api/systems/",
        data={"name": "New", "intended_purpose": "x", "risk_category": "minimal"},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 403
    assert not AISystem.objects.filter(name="New").exists()
    # And when a session is sent along, the token's limits still apply.
    client.force_login(owner)
    assert client.get("/api/systems/chatbot/", headers=headers).status_code == 404


@pytest.mark.django_db
def test_a_superusers_token_carries_their_roles_not_their_reach(
    client, fraud, registrar, other_system
):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    services.grant_role(actor=registrar, system=fraud, role=Role.VIEWER, user=admin)
    _, secret = token_for(admin, fraud)
    headers = bearer(secret)
    listed = client.get("/api/systems/", headers=headers).json()["results"]
    assert [system["slug"] for system in listed] == ["fraud"]
    assert client.get("/api/systems/hidden/", headers=headers).status_code == 404
    edit = client.patch(
        "/api/systems/fraud/", data={"name": "Renamed"}, content_type="application/json",
        headers=headers,
    )  # fmt: skip
    assert edit.status_code == 403


@pytest.mark.django_db
def test_a_token_loses_a_role_the_moment_its_owner_does(client, registrar, fraud):
    nadia = UserFactory(username="nadia")
    owner_grant = services.grant_role(actor=registrar, system=fraud, role=Role.OWNER, user=nadia)
    viewer_grant = services.grant_role(actor=registrar, system=fraud, role=Role.VIEWER, user=nadia)
    _, secret = token_for(nadia, fraud)
    headers = bearer(secret)
    newcomer = UserFactory(username="newcomer")

    def grant_viewer():  # type: ignore[no-untyped-def]
        return client.post(
            "/api/systems/fraud/roles/", data={"role": "responder", "user": "newcomer"},
            content_type="application/json", headers=headers,
        )  # fmt: skip

    assert grant_viewer().status_code == 201
    services.revoke_role(actor=registrar, grant=owner_grant)
    refused = grant_viewer()
    assert refused.status_code == 403, refused.content
    assert client.get("/api/systems/fraud/", headers=headers).status_code == 200  # still a viewer
    services.revoke_role(actor=registrar, grant=viewer_grant)
    assert client.get("/api/systems/fraud/", headers=headers).status_code == 404
    assert client.get("/api/systems/", headers=headers).json()["results"] == []
    assert newcomer.role_grants.count() == 1


# --- audit, secrets, queries, schema ----------------------------------------------------------


@pytest.mark.django_db
def test_creating_and_revoking_are_audited_without_the_secret(owner, fraud):
    token, secret = token_for(owner, fraud, "CI")
    services.revoke_api_token(actor=owner, token=token)
    seal_pending(chain_name(fraud.pk))
    created = AuditEvent.objects.get(action="api_token.created")
    revoked = AuditEvent.objects.get(action="api_token.revoked")
    assert (created.actor, created.system, created.object_id) == (owner, fraud, str(token.pk))
    assert created.after["prefix"] == token.prefix and created.after["name"] == "CI"
    assert revoked.before["status"] == "active" and revoked.after["status"] == "revoked"
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert secret not in dump and token.digest not in dump


@pytest.mark.django_db
def test_a_change_made_with_a_token_names_the_token_in_the_trail(client, owner, fraud):
    token, secret = token_for(owner, fraud, "release-bot")
    UserFactory(username="newcomer")
    second = UserFactory(username="second")
    by_token = client.post(
        "/api/systems/fraud/roles/", data={"role": "responder", "user": "newcomer"},
        content_type="application/json", headers=bearer(secret),
    )  # fmt: skip
    assert by_token.status_code == 201
    client.force_login(owner)  # the same person on a page, right after: no token in play
    by_page = client.post("/systems/fraud/roles/", {"role": "viewer", "user": second.username})
    assert by_page.status_code == 302
    seal_pending(chain_name(fraud.pk))

    granted = AuditEvent.objects.filter(action="role.granted").order_by("id")
    via_token, via_page = (
        granted.filter(object_repr__contains="newcomer").get(),
        granted.filter(object_repr__contains="second").get(),
    )
    assert via_token.actor == owner and via_token.credential == (
        f"API token {token.prefix}… release-bot"
    )
    assert via_page.actor == owner and via_page.credential == ""
    api = client.get("/api/audit-events/?action=role.granted").json()["results"]
    assert {event["credential"] for event in api} == {via_token.credential, ""}
    assert verify_all([chain_name(fraud.pk)]).ok


@pytest.mark.django_db
def test_a_change_made_with_a_password_over_http_basic_says_so(client, owner, fraud):
    UserFactory(username="newcomer")
    basic = base64.b64encode(f"{owner.username}:{PASSWORD}".encode()).decode()
    response = client.post(
        "/api/systems/fraud/roles/", data={"role": "responder", "user": "newcomer"},
        content_type="application/json", headers={"Authorization": f"Basic {basic}"},
    )  # fmt: skip
    assert response.status_code == 201
    event = AuditEvent.objects.get(request_id=response["X-Request-ID"])
    assert (event.actor, event.credential) == (owner, "HTTP Basic (password)")


@pytest.fixture
def all_logs(caplog) -> pytest.LogCaptureFixture:
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.django_db
def test_the_secret_appears_in_no_log_and_no_api_answer(client, owner, fraud, all_logs):
    client.force_login(owner)
    secret = _created_secret(client, fraud)
    client.logout()
    headers = bearer(secret)
    answers = [
        client.get(path, headers=headers)
        for path in ["/api/systems/", "/api/systems/fraud/", "/api/systems/fraud/roles/",
                     "/api/audit-events/?limit=500", "/api/systems/nope/"]
    ]  # fmt: skip
    token = ApiToken.objects.get()
    services.revoke_api_token(actor=owner, token=token)
    answers.append(client.get("/api/systems/", headers=headers))
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 404, 401]
    assert not [a for a in answers if secret.encode() in a.content]
    assert all_logs.records, "nothing was logged: the capture is not working"
    assert secret not in all_logs.text
    assert not any(secret in str(record.__dict__) for record in all_logs.records)


def _grow(owner, start: int, count: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(start, start + count):
        system = services.create_system(
            actor=owner, name=f"System {i}", intended_purpose="Scores things.",
            risk_category="minimal", owners=[UserFactory()],
        )  # fmt: skip
        services.grant_role(actor=owner, system=system, role=Role.VIEWER, user=UserFactory())
        token_for(owner, system, f"token {i}")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/systems/", "/api/systems/fraud/", "/api/audit-events/"])
def test_an_api_request_by_token_makes_as_many_queries_whatever_the_data(
    client, owner, fraud, path
):
    _, secret = token_for(owner, fraud)
    headers = bearer(secret)

    def queries() -> int:
        client.get(path, headers=headers)  # warm caches; last use is now fresh
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, headers=headers).status_code == 200
        return len(captured)

    _grow(owner, 0, 2)
    few = queries()
    _grow(owner, 2, 20)
    assert queries() == few


@pytest.mark.django_db
def test_the_pages_make_as_many_queries_whatever_the_number_of_tokens(client, owner, fraud):
    client.force_login(owner)

    def queries(path: str) -> int:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    token_for(owner, fraud, "first")
    few = (queries(PAGE), queries(SYSTEM_PAGE))
    for i in range(15):
        token_for(owner, fraud, f"more {i}")
    assert (queries(PAGE), queries(SYSTEM_PAGE)) == few


@pytest.mark.django_db
def test_the_schema_documents_the_token(client, owner):
    client.force_login(owner)
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert {"apiToken": []} in schema["paths"]["/api/systems/"]["get"]["security"]


# --- who may do what on the pages ---------------------------------------------------------


# The role matrix calls these in `api_tokens_world` (tests/worlds/api_tokens.py).
ROUTES = [
    Route("own token list", "GET", PAGE, EVERYONE),
    Route(
        "create a token",
        "POST",
        f"{PAGE}new/",
        EVERYONE - {"outsider"},
        ok=201,
        refused=400,
        outsider=400,  # holds no role: the system is not a valid choice
        data={"name": "Script", "system": "{fraud}", "expires_in": "30"},
    ),
    Route("confirm revoking one's own", "GET", PAGE + "{token}/revoke/", OWNERS, refused=404),
    Route("revoke one's own", "POST", PAGE + "{token}/revoke/", OWNERS, ok=302, refused=404),
    Route("system token list", "GET", SYSTEM_PAGE, OWNERS),
    Route("system: confirm revoking", "GET", SYSTEM_PAGE + "{viewer_token}/revoke/", OWNERS),
    Route("system: revoke", "POST", SYSTEM_PAGE + "{viewer_token}/revoke/", OWNERS, ok=302),
]

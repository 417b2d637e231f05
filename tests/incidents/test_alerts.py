"""Alerts from monitoring: payload parsing, token authentication, joining by fingerprint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core import mail

from governance import services as governance
from governance.models import AuditEvent
from governance.roles import Role
from incidents.models import Alert, AlertToken, Incident
from incidents.services.alert_tokens import create_alert_token, revoke_alert_token
from tests.factories import UserFactory
from tests.incidents.alerts import alertmanager, post


@pytest.fixture
def token(owner, fraud):
    return create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]


@pytest.mark.django_db
def test_a_firing_then_resolved_alert_makes_one_incident_with_two_entries(
    client, token, live_release, production
):
    first = post(client, "/api/alerts/alertmanager/", alertmanager(), token)
    assert first.status_code == 202, first.content
    second = post(client, "/api/alerts/alertmanager/", alertmanager(status="resolved"), token)
    assert second.status_code == 202
    incident = Incident.objects.get()
    assert incident.environment == production
    assert incident.live_release == live_release
    assert incident.severity == "sev1" and incident.source == "alert"
    alert_entries = incident.timeline.filter(kind="alert")
    assert [e.data["status"] for e in alert_entries] == ["firing", "resolved"]
    assert Alert.objects.filter(incident=incident).count() == 2


@pytest.mark.django_db
def test_what_an_alert_sets_off_names_its_token_in_the_trail(client, token, live_release):
    response = post(client, "/api/alerts/alertmanager/", alertmanager(), token)
    assert response.status_code == 202
    alert_token = AlertToken.objects.get()
    by_alert = AuditEvent.objects.filter(request_id=response["X-Request-ID"])
    assert set(by_alert.values_list("action", "credential")) == {
        (action, f"Alert token {alert_token.prefix}… Alertmanager")
        for action in ("alert.firing", "incident.declared")
    }
    assert AuditEvent.objects.get(action="alert_token.created").credential == ""


@pytest.mark.django_db
def test_an_alert_below_paging_severity_is_recorded_without_an_incident(client, token):
    response = post(client, "/api/alerts/alertmanager/", alertmanager(severity="info"), token)
    assert response.status_code == 202
    assert Alert.objects.get().incident is None
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_a_new_fingerprint_of_another_group_opens_a_second_incident(client, token, production):
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="a1", group="A"), token)
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="b2", group="B"), token)
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_a_new_fingerprint_of_the_same_group_joins_its_incident(client, token, production):
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="a1"), token)
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="b2"), token)
    incident = Incident.objects.get()
    assert set(incident.alerts.values_list("fingerprint", flat=True)) == {"a1", "b2"}


@pytest.mark.django_db
def test_generic_alerts_without_a_group_join_by_fingerprint(client, token, production):
    for name in ("Drift", "Drift", "Latency"):
        post(client, "/api/alerts/", {"name": name, "severity": "critical"}, token)
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_the_generic_format(client, token, production):
    response = post(
        client,
        "/api/alerts/",
        {
            "name": "Drift detected",
            "severity": "warning",
            "environment": "production",
            "annotations": {"summary": "PSI 0.31 on merchant_category"},
        },
        token,
    )
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.title == "PSI 0.31 on merchant_category" and incident.severity == "sev3"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"version": "3", "alerts": []},
        {"version": "4", "alerts": []},
        {"version": "4", "alerts": ["x"]},
        {"version": "4", "alerts": [{"status": "burning", "labels": {"alertname": "x"}}]},
        {"version": "4", "alerts": [{"status": "firing", "labels": {}}]},
        {"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": 5}}]},
        {
            "version": "4",
            "alerts": [{"status": "firing", "labels": {"alertname": "x"}, "startsAt": "yesterday"}],
        },
        "not even an object",
    ],
)
def test_malformed_payloads_get_a_400_and_nothing_is_stored(client, token, payload):
    response = post(client, "/api/alerts/alertmanager/", payload, token)
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_tokens_are_hashed_and_revocable(client, owner, fraud):
    from incidents.models import AlertToken

    stored, secret = create_alert_token(actor=owner, system=fraud, name="Grafana")
    assert secret not in AlertToken.objects.values_list("digest", flat=True)
    assert post(client, "/api/alerts/", {"name": "x"}, secret).status_code == 202
    revoke_alert_token(actor=owner, token=stored)
    assert post(client, "/api/alerts/", {"name": "x"}, secret).status_code == 401


@pytest.mark.django_db
def test_without_a_token_the_door_is_shut(client, owner):
    assert (
        client.post("/api/alerts/", {"name": "x"}, content_type="application/json").status_code
        == 401
    )
    client.force_login(owner)  # a person's session is not a monitoring token
    assert (
        client.post("/api/alerts/", {"name": "x"}, content_type="application/json").status_code
        == 401
    )


# --- which environment an alert is about ------------------------------------------------------


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in this process when sent: the owners' email lands in the outbox."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def site(settings) -> None:
    settings.SITE_URL = "https://failsafe.example.com"


@pytest.fixture
def other_owner(fraud, registrar):  # type: ignore[no-untyped-def]
    user = UserFactory(username="otto", first_name="Otto")
    governance.grant_role(actor=registrar, system=fraud, role=Role.OWNER, user=user)
    return user


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/alerts/alertmanager/", alertmanager(environment="prd")),
        ("/api/alerts/", {"name": "ReviewRateHigh", "severity": "critical", "environment": "prd"}),
    ],
)
def test_a_label_that_names_no_environment_is_said_to_the_sender_the_timeline_and_the_owners(
    client, django_capture_on_commit_callbacks, eager, site, token, owner, other_owner,
    oncall_lead, production, staging, path, payload,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, path, payload, token)

    assert response.status_code == 202, response.content
    [answer] = response.json()["alerts"]
    incident = Incident.objects.get()
    assert answer["incident"] == incident.pk and answer["environment"] is None
    [warning] = answer["warnings"]
    assert 'environment="prd" matches no environment of Card fraud screening' in warning
    assert "production (Production)" in warning and "staging (Staging)" in warning
    assert "cannot be rolled back" in warning
    assert incident.environment is None and Alert.objects.get().environment is None

    entry = incident.timeline.get(data__environment_label={"label": "environment", "value": "prd"})
    assert entry.body == warning and entry.kind == "alert"
    assert sorted(entry.data["environments"], key=lambda e: e["slug"]) == [
        {"slug": "production", "name": "Production", "is_production": True},
        {"slug": "staging", "name": "Staging", "is_production": False},
    ]
    assert AuditEvent.objects.filter(action="alert.environment_unmatched").count() == 1

    [email] = mail.outbox
    assert sorted(email.to) == sorted([owner.email, other_owner.email])  # owners, not the lead
    assert email.extra_headers["X-Failsafe-Event"] == "no-environment"
    assert f"INC-{incident.pk} has none" in email.subject
    assert 'the label environment="prd", which matches no environment' in email.body
    assert "  production" in email.body and "  staging" in email.body
    assert f"https://failsafe.example.com/incidents/{incident.pk}/" in email.body


@pytest.mark.django_db
def test_its_war_room_then_says_why_it_cannot_roll_back(
    client, token, rollback_owner, production, live_release
):
    post(client, "/api/alerts/alertmanager/", alertmanager(environment="prd"), token)
    incident = Incident.objects.get()

    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()

    assert "environment=&quot;prd&quot; matches no environment" in page


@pytest.mark.django_db
def test_a_repeated_delivery_says_it_once(
    client, django_capture_on_commit_callbacks, eager, token, owner, production
):
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("firing", "firing", "resolved"):
            answer = post(
                client,
                "/api/alerts/alertmanager/",
                alertmanager(status, environment="", env="prd"),
                token,
            ).json()["alerts"][0]
            assert answer["warnings"] and answer["environment"] is None  # each time, to the sender

    incident = Incident.objects.get()
    said = incident.timeline.filter(data__environment_label={"label": "env", "value": "prd"})
    assert said.count() == 1 and len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["production", "PRODUCTION", " Production "])
def test_the_label_names_an_environment_by_slug_or_name_whatever_the_case(
    client, token, production, staging, value
):
    answer = post(
        client, "/api/alerts/alertmanager/", alertmanager(environment=value), token
    ).json()["alerts"][0]

    assert answer["environment"] == "production" and answer["warnings"] == []
    assert Incident.objects.get().environment == production


@pytest.mark.django_db
def test_a_slug_wins_over_another_environments_name(client, owner, fraud, token, production):
    from releases import services as releases

    releases.create_environment(actor=owner, system=fraud, name="PRODUCTION", slug="shadow")
    payload = {"name": "x", "severity": "critical", "environment": "production"}

    answer = post(client, "/api/alerts/", payload, token).json()["alerts"][0]

    assert answer["environment"] == "production" and answer["warnings"] == []


@pytest.mark.django_db
def test_without_a_label_the_only_production_environment_is_assumed_and_said(
    client, django_capture_on_commit_callbacks, eager, token, production, staging
):
    payload = alertmanager()
    del payload["alerts"][0]["labels"]["environment"]

    with django_capture_on_commit_callbacks(execute=True):
        answer = post(client, "/api/alerts/alertmanager/", payload, token).json()["alerts"][0]

    incident = Incident.objects.get()
    assert answer["environment"] == "production" and incident.environment == production
    [warning] = answer["warnings"]
    assert warning.startswith("No environment label: Production (production) assumed")
    assert incident.timeline.filter(body=warning).count() == 1
    assert not mail.outbox  # nothing is wrong: the owners are not bothered


@pytest.mark.django_db
def test_without_a_label_and_no_single_production_environment_none_is_guessed(
    client, django_capture_on_commit_callbacks, eager, owner, fraud, token, production
):
    from releases import services as releases

    releases.create_environment(actor=owner, system=fraud, name="Production EU", is_production=True)
    payload = alertmanager()
    del payload["alerts"][0]["labels"]["environment"]

    with django_capture_on_commit_callbacks(execute=True):
        answer = post(client, "/api/alerts/alertmanager/", payload, token).json()["alerts"][0]

    assert answer["environment"] is None and Incident.objects.get().environment is None
    assert "no single production environment to assume" in answer["warnings"][0]
    assert len(mail.outbox) == 1 and "came with no environment label" in mail.outbox[0].body


@pytest.mark.django_db
def test_a_system_with_one_environment_takes_its_alerts_without_a_label(client, token, staging):
    answer = post(client, "/api/alerts/", {"name": "x", "severity": "critical"}, token).json()[
        "alerts"
    ][0]

    assert answer["environment"] == "staging"
    assert "the only environment of Card fraud screening" in answer["warnings"][0]

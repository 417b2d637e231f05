"""Alerts from monitoring: payload parsing, token authentication, joining by fingerprint."""

from __future__ import annotations

import pytest
from django.utils import timezone

from governance.models import AuditEvent
from incidents.models import Alert, AlertToken, Incident
from incidents.services.tokens import create_alert_token, revoke_alert_token


def alertmanager(status="firing", fingerprint="c0ffee", severity="critical", **labels):  # type: ignore[no-untyped-def]
    resolved = status == "resolved"
    return {
        "version": "4",
        "status": status,
        "receiver": "failsafe",
        "groupKey": '{}:{alertname="ReviewRateHigh"}',
        "groupLabels": {"alertname": "ReviewRateHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "ReviewRateHigh",
                    "severity": severity,
                    "environment": "production",
                    **labels,
                },
                "annotations": {"summary": "Review rate 7.2% (threshold 2.5%)"},
                "startsAt": timezone.now().isoformat(),
                "endsAt": timezone.now().isoformat() if resolved else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


@pytest.fixture
def token(owner, fraud):
    return create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]


def post(client, path, payload, token):  # type: ignore[no-untyped-def]
    return client.post(
        path, payload, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


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
def test_a_new_fingerprint_opens_a_second_incident(client, token, production):
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="a1"), token)
    post(client, "/api/alerts/alertmanager/", alertmanager(fingerprint="b2"), token)
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

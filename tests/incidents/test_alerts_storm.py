"""An alert storm is one page: a group's alerts join one incident, a post has a maximum size
(413 beyond it, nothing written), and one token's rate of new incidents is bounded (beyond
it, alerts join a storm incident and the owners are told)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.models import Alert, AlertToken, Incident
from incidents.services.alert_tokens import create_alert_token
from tests.incidents.alerts import alertmanager

AM = "/api/alerts/alertmanager/"
GENERIC = "/api/alerts/"


@pytest.fixture
def token(owner, fraud) -> str:  # type: ignore[no-untyped-def]
    return create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in this process when sent: the owners' email lands in the outbox."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def send(client, path: str, payload: Any, token: str):  # type: ignore[no-untyped-def]
    return client.post(
        path, payload, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def group_of(count: int, *, severities: tuple[str, ...] = ("critical",), **extra: Any) -> dict:
    """One Alertmanager notification: `count` alerts of one group, each its own fingerprint."""
    payload = alertmanager(**extra)
    (template,) = payload["alerts"]
    payload["alerts"] = []
    for n in range(count):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{n:016x}"
        alert["labels"] |= {"instance": f"node-{n}", "severity": severities[n % len(severities)]}
        payload["alerts"].append(alert)
    return payload


# --- grouping --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_groups_alerts_are_one_incident_at_the_severity_of_its_worst(client, token, production):
    payload = group_of(60, severities=("warning", "warning", "critical"))

    response = send(client, AM, payload, token)

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert incident.severity == "sev1"  # a critical one among warnings
    assert incident.alerts.count() == 60
    assert incident.alerts.values("fingerprint").distinct().count() == 60
    answers = response.json()["alerts"]
    assert [a["name"] for a in answers] == ["ReviewRateHigh"] * 60
    assert {a["incident"] for a in answers} == {incident.pk}
    assert [Alert.objects.get(pk=a["id"]).fingerprint for a in answers[:3]] == [
        f"{n:016x}" for n in range(3)
    ]  # answered in the order sent


@pytest.mark.django_db
def test_the_next_notification_of_the_group_joins_and_resolves_within_it(client, token, production):
    send(client, AM, group_of(3), token)
    send(client, AM, group_of(5, status="resolved"), token)

    incident = Incident.objects.get()
    assert incident.alerts.filter(status="resolved").count() == 5


@pytest.mark.django_db
def test_an_incident_from_before_groups_takes_its_alerts_group(client, token, production):
    before = alertmanager(fingerprint="0000000000000000")
    before.pop("groupKey")
    send(client, AM, before, token)

    send(client, AM, group_of(4), token)  # 0000… is among them, then three new ones

    incident = Incident.objects.get()
    assert incident.group_key and incident.alerts.count() == 5


@pytest.mark.django_db
def test_alertmanagers_truncation_is_said_once_on_the_timeline(client, token, production):
    for _ in range(2):
        payload = group_of(2)
        payload["truncatedAlerts"] = 40
        assert send(client, AM, payload, token).status_code == 202

    incident = Incident.objects.get()
    [note] = incident.timeline.filter(data__has_key="truncated")
    assert "left 40 alerts of this group out" in note.body


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_a_new_group_at_once_open_one_incident(owner, fraud, production):
    """Alertmanager's HA pair sends each notification from both instances."""
    _, secret = create_alert_token(actor=owner, system=fraud, name="Alertmanager")
    forward = group_of(20)
    backward = copy.deepcopy(forward)
    backward["alerts"].reverse()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def deliver(payload: dict) -> None:
        try:
            barrier.wait()
            statuses.append(send(Client(), AM, payload, secret).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(p,)) for p in (forward, backward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [202, 202]
    assert Incident.objects.count() == 1
    assert Alert.objects.filter(incident=Incident.objects.get()).count() == 40


# --- the size of a post ------------------------------------------------------------------------


@pytest.mark.django_db
def test_more_alerts_than_a_post_may_hold_is_a_413_and_nothing_is_written(
    client, settings, token, production
):
    settings.ALERT_PAYLOAD_MAX_ALERTS = 10

    response = send(client, AM, group_of(11), token)

    assert response.status_code == 413
    assert response.json() | {"detail": ""} == {
        "detail": "",
        "limit": "alerts",
        "maximum": 10,
        "received": 11,
    }
    assert "max_alerts" in response.json()["detail"]
    assert not Alert.objects.exists() and not Incident.objects.exists()
    assert send(client, AM, group_of(10), token).status_code == 202


@pytest.mark.django_db
def test_the_storm_that_was_found_is_refused_in_well_under_a_second(client, token, production):
    """The tester's post: 10,006 alerts, each its own fingerprint (once 10,006 SEV1
    incidents in 110 s). Over the byte limit: refused before the body is read."""
    payload = json.dumps(group_of(10_006))
    assert len(payload) > 1_048_576

    started = time.monotonic()
    response = send(client, AM, payload, token)

    assert response.status_code == 413
    assert response.json()["limit"] == "bytes"
    assert response.json()["maximum"] == 1_048_576
    assert time.monotonic() - started < 1
    assert not Alert.objects.exists() and not Incident.objects.exists()


@pytest.mark.django_db
def test_the_byte_limit_holds_for_the_generic_form_and_is_checked_after_the_token(
    client, settings, token, production
):
    settings.ALERT_PAYLOAD_MAX_BYTES = 100
    body = {"name": "x", "annotations": {"description": "d" * 200}}

    assert send(client, GENERIC, body, "fsa_wrong").status_code == 401
    assert send(client, GENERIC, body, token).status_code == 413


# --- the rate of new incidents -----------------------------------------------------------------


@pytest.mark.django_db
def test_past_the_tokens_rate_alerts_join_one_storm_incident_and_the_owners_are_told(
    client, settings, django_capture_on_commit_callbacks, eager, token, owner, production
):
    settings.ALERT_NEW_INCIDENTS_PER_MINUTE = 3

    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            send(client, GENERIC, {"name": f"Drift{n}", "severity": "critical"}, token).json()
            for n in range(8)
        ]

    storm = Incident.objects.get(is_storm=True)
    assert Incident.objects.filter(is_storm=False).count() == 3
    assert storm.severity == "sev1" and storm.title == "Alert storm: Alertmanager"
    assert storm.alert_token == AlertToken.objects.get()
    assert storm.alerts.count() == 5
    [fourth] = answers[3]["alerts"]
    assert fourth["incident"] == storm.pk
    assert f"joined the storm incident INC-{storm.pk}" in fourth["warnings"][-1]
    assert storm.timeline.filter(data__limit=3).exists()

    [email] = mail.outbox  # once, when the storm began
    assert email.to == [owner.email]
    assert email.extra_headers["X-Failsafe-Event"] == "alert-storm"
    assert f"INC-{storm.pk}" in email.subject and "more than 3" in email.body


@pytest.mark.django_db
def test_alerts_of_open_incidents_still_join_them_during_a_storm(
    client, settings, token, production
):
    settings.ALERT_NEW_INCIDENTS_PER_MINUTE = 1
    send(client, GENERIC, {"name": "Drift", "severity": "critical"}, token)
    send(client, GENERIC, {"name": "Latency", "severity": "critical"}, token)  # the storm

    send(client, GENERIC, {"name": "Drift", "status": "resolved", "severity": "critical"}, token)

    drift = Incident.objects.get(is_storm=False)
    assert drift.alerts.count() == 2


@pytest.mark.django_db
def test_the_rate_is_per_minute_and_per_token(client, settings, owner, fraud, token, production):
    settings.ALERT_NEW_INCIDENTS_PER_MINUTE = 2
    _, other = create_alert_token(actor=owner, system=fraud, name="Grafana")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(3):
            send(client, GENERIC, {"name": f"A{n}", "severity": "critical"}, token)
        send(client, GENERIC, {"name": "G", "severity": "critical"}, other)  # its own count
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        send(client, GENERIC, {"name": "B", "severity": "critical"}, token)

    assert Incident.objects.filter(is_storm=True).count() == 1
    assert set(Incident.objects.filter(is_storm=False).values_list("title", flat=True)) == {
        "A0",
        "A1",
        "G",
        "B",
    }


@pytest.mark.django_db
def test_zero_means_no_bound(client, settings, token, production):
    settings.ALERT_NEW_INCIDENTS_PER_MINUTE = 0
    for n in range(25):
        send(client, GENERIC, {"name": f"A{n}", "severity": "critical"}, token)
    assert Incident.objects.count() == 25 and not Incident.objects.filter(is_storm=True).exists()

"""A token holder's bad input to the alert intake: a 4xx that names the field, never a 500,
and nothing written. Text that cannot be stored (NUL, lone surrogates) is refused wherever
it is; times must exist; text is held to its caps; an over-long summary titles its incident
shortened while the alert keeps it whole."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from incidents.models import Alert, Incident, TimelineEntry
from incidents.services.alert_tokens import create_alert_token
from tests.incidents.alerts import alertmanager

AM = "/api/alerts/alertmanager/"
GENERIC = "/api/alerts/"


@pytest.fixture
def token(owner, fraud) -> str:  # type: ignore[no-untyped-def]
    return create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1]


def send(client, path: str, payload: Any, token: str):  # type: ignore[no-untyped-def]
    """The payload as JSON with every non-ASCII character escaped: a lone surrogate travels
    as the `\\ud800` escape a hostile sender would write."""
    return client.post(
        path,
        json.dumps(payload, ensure_ascii=True),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def two_alerts(**change: Any) -> dict[str, Any]:
    """A good alert, then a second one changed by `change` (dotted paths into the alert)."""
    payload = alertmanager()
    bad = copy.deepcopy(payload["alerts"][0])
    bad["fingerprint"] = "bad"
    for path, value in change.items():
        *parents, last = path.split(".")
        target = bad
        for part in parents:
            target = target[part]
        target[last] = value
    payload["alerts"].append(bad)
    return payload


def with_key(where: str, key: str) -> dict[str, Any]:
    payload = alertmanager()
    payload["alerts"][0][where][key] = "x"
    return payload


REFUSED = [
    ("impossible month and day", two_alerts(startsAt="2026-13-45T00:00:00Z"), "alerts[1].startsAt"),
    ("year zero", two_alerts(startsAt="0000-01-01T00:00:00Z"), "alerts[1].startsAt"),
    ("impossible end", two_alerts(endsAt="2026-02-30T00:00:00Z"), "alerts[1].endsAt"),
    ("a time that is a number", two_alerts(startsAt=1733500000), "alerts[1].startsAt"),
    ("before 1970", two_alerts(startsAt="1969-12-31T23:59:59Z"), "alerts[1].startsAt"),
    ("NUL in a label", two_alerts(**{"labels.team": "fraud\u0000"}), "alerts[1].labels.team"),
    (
        "NUL in an annotation",
        two_alerts(**{"annotations.summary": "a\u0000b"}),
        "alerts[1].annotations.summary",
    ),
    ("NUL in a label's name", with_key("labels", "te\u0000am"), "alerts[0].labels"),
    (
        "a lone surrogate in a label",
        two_alerts(**{"labels.team": "\ud800"}),
        "alerts[1].labels.team",
    ),
    (
        "a lone surrogate in an annotation",
        two_alerts(**{"annotations.description": "x\udfff"}),
        "alerts[1].annotations.description",
    ),
    ("a lone surrogate in a name", with_key("annotations", "\ud800"), "alerts[0].annotations"),
    ("NUL where nothing is kept", {**alertmanager(), "receiver": "\u0000"}, "receiver"),
    (
        "NUL in the alertname",
        two_alerts(**{"labels.alertname": "\u0000"}),
        "alerts[1].labels.alertname",
    ),
    (
        "an annotation over its cap",
        two_alerts(**{"annotations.description": "d" * 10_001}),
        "alerts[1].annotations.description",
    ),
    ("a label over its cap", two_alerts(**{"labels.team": "t" * 1_001}), "alerts[1].labels.team"),
    (
        "an alertname over its cap",
        two_alerts(**{"labels.alertname": "n" * 201}),
        "alerts[1].labels.alertname",
    ),
    ("a fingerprint over its cap", two_alerts(fingerprint="f" * 129), "alerts[1].fingerprint"),
    ("a fingerprint that is a number", two_alerts(fingerprint=7), "alerts[1].fingerprint"),
    ("a blank alertname", two_alerts(**{"labels.alertname": "   "}), "alerts[1]"),
    ("a group key that is a list", {**alertmanager(), "groupKey": ["x"]}, "groupKey"),
    ("negative truncation", {**alertmanager(), "truncatedAlerts": -1}, "truncatedAlerts"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"), [(p, f) for _, p, f in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_alertmanager_input_that_cannot_be_kept_is_a_400_naming_the_field(
    client, token, production, payload, field
):
    # CPU time, not the wall clock: the handling runs in this process, and the machine's load
    # must not fail (or pass) the bound.
    started = time.process_time()
    response = send(client, AM, payload, token)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["field"] == field, answer
    assert answer["detail"].startswith(field)
    assert time.process_time() - started < 2  # a lone surrogate once took 18 s of CPU
    assert not Alert.objects.exists() and not Incident.objects.exists()  # not even alerts[0]
    assert not TimelineEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x\u0000"}, "name"),
        ({"name": "\ud800"}, "name"),
        ({"name": "x", "environment": "prod\u0000"}, "environment"),
        ({"name": "x", "labels": {"a": "\udc00"}}, "labels.a"),
        ({"name": "x", "annotations": {"summary": "\u0000"}}, "annotations.summary"),
        ({"name": "x", "starts_at": "2026-13-45T00:00:00Z"}, "starts_at"),
        ({"name": "x", "ends_at": "0000-01-01T00:00:00Z"}, "ends_at"),
        ({"name": "x", "severity": 5}, "severity"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "extra": ["fine", {"deep": "\u0000"}]}, "extra[1].deep"),
    ],
)
def test_the_generic_form_refuses_the_same_way(client, token, production, payload, field):
    response = send(client, GENERIC, payload, token)

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not Alert.objects.exists() and not Incident.objects.exists()


@pytest.mark.django_db
def test_a_long_summary_titles_the_incident_shortened_and_the_alert_keeps_it_whole(
    client, token, production
):
    summary = "Review rate " + "très haut, " * 40  # 452 characters
    payload = alertmanager()
    payload["alerts"][0]["annotations"] = {"summary": summary, "description": "d" * 10_000}

    response = send(client, AM, payload, token)

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert len(incident.title) == 200 and incident.title.endswith("…")
    assert summary.startswith(incident.title[:-1])
    assert Alert.objects.get().annotations["summary"] == summary
    assert len(incident.summary) <= Incident._meta.get_field("summary").max_length  # type: ignore[operator]


@pytest.mark.django_db
def test_times_without_an_offset_are_utc_and_go_zero_time_is_not_set(client, token, production):
    payload = alertmanager()
    payload["alerts"][0]["startsAt"] = "2026-12-01T10:00:00"

    assert send(client, AM, payload, token).status_code == 202

    alert = Alert.objects.get()
    assert alert.starts_at.isoformat() == "2026-12-01T10:00:00+00:00"  # type: ignore[union-attr]
    assert alert.ends_at is None  # 0001-01-01T00:00:00Z


@pytest.mark.django_db
def test_a_start_in_the_future_is_detected_now(client, token, production):
    payload = alertmanager()
    payload["alerts"][0]["startsAt"] = "2999-01-01T00:00:00Z"

    assert send(client, AM, payload, token).status_code == 202

    incident = Incident.objects.get()
    assert incident.detected_at.year < 2999


@pytest.mark.django_db
def test_a_blank_summary_leaves_the_alerts_name_as_title(client, token, production):
    payload = alertmanager()
    payload["alerts"][0]["annotations"] = {"summary": " \n\t "}

    assert send(client, AM, payload, token).status_code == 202
    assert Incident.objects.get().title == "ReviewRateHigh"

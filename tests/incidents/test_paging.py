"""Paging PagerDuty: a serious incident triggers one page under one dedup key, carrying the
war room and a rollback proposal, resolved when the incident recovers; against a local
stand-in that checks each event as PagerDuty's Events API v2 documents it. PagerDuty down,
hung or rate-limiting fails the page (retried), never the incident or its rollback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from governance.models import AuditEvent
from incidents import paging, services
from incidents.models import Page, PageStatus
from incidents.tasks import page_incident
from releases.models import RollbackRequest
from tests.factories import OpenIncidentFactory
from tests.fixtures.pagerduty_server import PagerDutyStandIn

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 letters and digits, as PagerDuty issues them


@pytest.fixture
def pagerduty(settings) -> Iterator[PagerDutyStandIn]:  # type: ignore[no-untyped-def]
    stand_in = PagerDutyStandIn().start()
    settings.PAGERDUTY_EVENTS_URL = stand_in.url
    settings.PAGERDUTY_TIMEOUT_SECONDS = 1
    yield stand_in
    stand_in.stop()


@pytest.fixture
def paged(fraud):  # type: ignore[no-untyped-def]
    fraud.pagerduty_routing_key = KEY
    fraud.save()
    return fraud


pytestmark = pytest.mark.django_db


def test_a_serious_incident_pages_once_and_recovery_resolves_it(
    pagerduty, paged, incident, oncall_lead, django_capture_on_commit_callbacks
):
    assert paging.sync_page(incident_id=incident.pk) == "triggered"
    (event,) = pagerduty.events
    assert event["routing_key"] == KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == f"failsafe-incident-{incident.pk}"
    payload = event["payload"]
    assert payload["severity"] == "error" and "Review rate tripled" in payload["summary"]
    assert payload["source"] == "failsafe/fraud/production" and payload["group"] == "fraud"
    details = payload["custom_details"]
    assert details["incident"] == f"INC-{incident.pk}" and details["live_release"] == "2.0.0"
    war_room = f"/incidents/{incident.pk}/"
    assert event["links"][0]["href"].endswith(war_room) and event["client"] == "Failsafe"
    assert Page.objects.get(incident=incident).status == PageStatus.TRIGGERED

    with django_capture_on_commit_callbacks() as scheduled:
        services.move_stage(actor=oncall_lead, incident=incident, stage="recovery")
    assert len(scheduled) == 1  # the page is brought in line after the move commits
    assert paging.sync_page(incident_id=incident.pk) == "resolved"
    resolve = pagerduty.events[-1]
    assert resolve == {"routing_key": KEY, "event_action": "resolve",
                       "dedup_key": f"failsafe-incident-{incident.pk}"}  # fmt: skip
    assert paging.sync_page(incident_id=incident.pk) == "quiet"  # resolved once
    assert len(pagerduty.events) == 2


def test_a_lesser_severity_pages_only_once_raised(
    pagerduty, paged, oncall_lead, production, live_release
):
    minor = OpenIncidentFactory(
        actor=oncall_lead, system=paged, environment=production, title="Odd outputs",
        severity="sev3", category="performance",
    )  # fmt: skip
    assert paging.sync_page(incident_id=minor.pk) == "quiet" and not pagerduty.events
    services.change_severity(actor=oncall_lead, incident=minor, severity="sev1", reason="Worse")
    assert paging.sync_page(incident_id=minor.pk) == "triggered"
    assert pagerduty.events[0]["payload"]["severity"] == "critical"


def test_a_system_without_a_key_schedules_no_page(
    pagerduty, fraud, oncall_lead, production, live_release, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as scheduled:
        OpenIncidentFactory(
            actor=oncall_lead, system=fraud, environment=production, title="Quiet",
            severity="sev1", category="performance",
        )  # fmt: skip
    assert not any("page" in repr(callback) for callback in scheduled)
    assert not pagerduty.events


def test_the_page_carries_the_rollback_the_plan_proposed(pagerduty, paged, incident, earlier):
    services.roll_back_incident(
        actor=None, incident=incident, reason="review_rate > 2.5 for 15 min", propose=True,
        trigger={"metric": "review_rate", "value": "3.1", "window_minutes": 15},
    )  # fmt: skip
    paging.sync_page(incident_id=incident.pk)
    proposed = pagerduty.events[-1]["payload"]["custom_details"]["rollback_proposed"]
    assert proposed["from"] == "2.0.0" and proposed["to"] == earlier.version
    assert proposed["evidence"]["value"] == "3.1"
    assert proposed["confirm"].endswith(f"/incidents/{incident.pk}/#release")


@pytest.mark.parametrize(
    ("answer", "transient", "retry_after"),
    [((429, {"Retry-After": "7"}), True, 7.0), ((503, {}), True, None), ((400, {}), False, None)],
)
def test_what_pagerduty_answers_decides_whether_the_page_is_retried(  # type: ignore[no-untyped-def]
    pagerduty, paged, incident, answer, transient, retry_after
):
    pagerduty.answer = answer
    with pytest.raises(paging.PagingError) as caught:
        paging.sync_page(incident_id=incident.pk)
    assert caught.value.transient is transient and caught.value.retry_after == retry_after
    assert not Page.objects.exists()  # nothing PagerDuty did not accept is recorded as sent


def test_a_hung_or_dead_pagerduty_costs_the_task_its_timeout_not_more(
    pagerduty, paged, incident, settings
):
    pagerduty.hang.set()
    started = time.monotonic()
    with pytest.raises(paging.PagingError) as caught:
        paging.sync_page(incident_id=incident.pk)
    assert caught.value.transient and time.monotonic() - started < 3
    settings.PAGERDUTY_EVENTS_URL = "http://127.0.0.1:9/v2/enqueue"  # nothing listens
    with pytest.raises(paging.PagingError, match="could not be reached"):
        paging.sync_page(incident_id=incident.pk)


def test_the_task_gives_up_on_an_event_pagerduty_refuses(pagerduty, paged, incident):
    pagerduty.answer = (400, {})
    assert page_incident.apply(args=(incident.pk,)).get() == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_pagerduty_that_hangs_never_holds_up_roll_back_now(  # type: ignore[no-untyped-def]
    client, pagerduty, paged, incident, earlier, rollback_owner
):
    pagerduty.hang.set()
    client.force_login(rollback_owner)
    started = time.monotonic()
    response = client.post(f"/incidents/{incident.pk}/rollback/", {"reason": "Review rate 3x"})
    assert response.status_code == 302
    assert time.monotonic() - started < 2
    assert RollbackRequest.objects.filter(environment=incident.environment).exists()


def test_owners_set_the_key_on_the_system_form_and_it_is_never_shown(client, owner, fraud):
    client.force_login(owner)
    url = f"/systems/{fraud.slug}/edit/"
    fields = {
        "name": fraud.name, "slug": fraud.slug, "intended_purpose": fraud.intended_purpose,
        "risk_category": fraud.risk_category, "owners": [owner.pk],
    }  # fmt: skip
    refused = client.post(url, {**fields, "pagerduty_routing_key": "not-a-key"})
    assert refused.status_code == 400 and "32 letters and digits" in refused.content.decode()
    assert client.post(url, {**fields, "pagerduty_routing_key": KEY}).status_code == 302
    fraud.refresh_from_db()
    assert fraud.pagerduty_routing_key == KEY
    page = client.get(url).content.decode()
    assert KEY not in page and 'data-testid="paging-on"' in page
    event = AuditEvent.objects.filter(action="system.updated").latest("id")
    assert event.after["pages_pagerduty"] is True and KEY not in str(event.after)
    assert client.post(url, fields).status_code == 302  # left blank: kept
    fraud.refresh_from_db()
    assert fraud.pagerduty_routing_key == KEY
    assert client.post(url, {**fields, "stop_paging": "on"}).status_code == 302
    fraud.refresh_from_db()
    assert not fraud.pagerduty_routing_key

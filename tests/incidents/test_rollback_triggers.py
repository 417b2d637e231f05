"""The rollback plan's triggers act on alerts: debounced by their window, held back by the
cooldown, and by mode nothing, a proposal, or a rollback. On a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.services.alert_tokens import create_alert_token
from incidents.services.triggers import evaluate, evaluate_open_incidents
from releases import rollbacks
from releases.models import RollbackRequest, RollbackStatus
from tests.factories import ApprovedReleaseFactory, LiveDeploymentFactory
from tests.incidents.alerts import alertmanager, post

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALERTS = "/api/alerts/alertmanager/"
TRIGGER = {"metric": "review_rate", "comparison": "gt", "threshold": "2.5", "window_minutes": 15}


@pytest.fixture
def live_with_plan(  # type: ignore[no-untyped-def]
    live_release, fraud, model_owner, release_manager, second_approver, production,
    rollback_owner,
):  # fmt: skip
    """Put 2.1.0 live on top of 2.0.0 with a plan in the given mode."""

    def make(mode: str, cooldown: int = 30):  # type: ignore[no-untyped-def]
        release = ApprovedReleaseFactory(
            system=fraud, actor=model_owner, version="2.1.0", environment=production,
            rollback_owners=[rollback_owner], plan_mode=mode, cooldown_minutes=cooldown,
            triggers=[TRIGGER], approvers=[release_manager, second_approver],
        )  # fmt: skip
        LiveDeploymentFactory(release=release, actor=release_manager, environment=production)
        return release

    return make


def fire(fraud, value: str, started: datetime, status: str = "firing"):  # type: ignore[no-untyped-def]
    alert = services.parse_generic(
        {
            "name": "ReviewRateHigh",
            "status": status,
            "severity": "critical",
            "environment": "production",
            "labels": {"metric": "review_rate"},
            "annotations": {"value": value, "summary": "Review rate above budget"},
            "starts_at": started.isoformat(),
        }
    )[0]
    return services.ingest_alert(system=fraud, alert=alert)


def test_auto_propose_waits_for_the_window_then_proposes_with_the_evidence(
    fraud, live_with_plan, live_release
):
    live_with_plan("auto_propose")
    with time_machine.travel(T0, tick=False):
        stored = fire(fraud, "3.1", started=T0 - timedelta(minutes=5))
        incident = stored.incident
        assert incident is not None
        assert not RollbackRequest.objects.exists()  # held 5 of 15 minutes: debounce
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=1), tick=False):
        assert evaluate_open_incidents() == 1  # beat looks again: held 15 minutes now
    request = RollbackRequest.objects.get()
    assert request.status == RollbackStatus.PROPOSED and request.requested_by is None
    assert request.to_release == live_release
    assert request.trigger["metric"] == "review_rate" and request.trigger["value"] == "3.1"
    assert request.trigger["threshold"] == "2.5" and request.trigger["window_minutes"] == 15
    assert incident.timeline.filter(body__contains="proposed by the rollback plan").exists()


def test_automatic_mode_requests_the_rollback_directly(fraud, live_with_plan):
    live_with_plan("automatic")
    with time_machine.travel(T0, tick=False):
        fire(fraud, "4.0", started=T0 - timedelta(minutes=20))
    request = RollbackRequest.objects.get()
    assert request.status == RollbackStatus.REQUESTED and request.trigger["mode"] == "automatic"


def test_manual_mode_and_values_on_the_right_side_do_nothing(fraud, live_with_plan):
    live_with_plan("manual")
    with time_machine.travel(T0, tick=False):
        fire(fraud, "9.9", started=T0 - timedelta(hours=1))
    assert not RollbackRequest.objects.exists()


def test_a_value_below_the_threshold_or_a_resolved_alert_does_not_trigger(fraud, live_with_plan):
    live_with_plan("automatic")
    with time_machine.travel(T0, tick=False):
        fire(fraud, "2.4", started=T0 - timedelta(hours=1))
        assert not RollbackRequest.objects.exists()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        fire(fraud, "3.0", started=T0 - timedelta(minutes=10))
        fire(fraud, "3.0", started=T0 - timedelta(minutes=10), status="resolved")
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        assert evaluate_open_incidents() == 0
    assert not RollbackRequest.objects.exists()


def test_the_cooldown_prevents_a_second_automatic_rollback(
    fraud, live_with_plan, production, rollback_owner
):
    release = live_with_plan("automatic", cooldown=60)
    with time_machine.travel(T0, tick=False):
        fire(fraud, "4.0", started=T0 - timedelta(minutes=20))
        first = RollbackRequest.objects.get()
        rollbacks.fail_rollback(request_id=first.pk, error="backend down")
    # Still firing ten minutes later: inside the cooldown, nothing new.
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        fire(fraud, "4.2", started=T0 - timedelta(minutes=20))
        assert RollbackRequest.objects.count() == 1
    # After the cooldown the plan may ask again.
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        incident = first.incident_link.incident
        assert evaluate(incident) is not None
    assert RollbackRequest.objects.count() == 2
    assert release.pk == RollbackRequest.objects.first().from_release_id  # type: ignore[union-attr]


def test_an_alert_meeting_an_automatic_trigger_takes_a_fixed_number_of_statements(
    client, fraud, registrar, live_with_plan, django_assert_num_queries
):
    # What a rollback waits on when monitoring asks for it: the token; the system's
    # serialising lock and environments; the group's (else the fingerprint's) open incident;
    # the alert, then its timeline entry with their audit event (one statement, as every
    # entry); the plan's triggers with their cooldown; the incident's alerts; the
    # incident's lock; the press's one statement; the request, its link, its audit event,
    # and its timeline entry. The alerts the incident already holds are read in one
    # statement, however many (a deferred column once cost a statement each); the
    # savepoint and its release are the test's transaction's.
    live_with_plan("automatic")
    _, secret = create_alert_token(actor=registrar, system=fraud, name="Alertmanager")
    started = (timezone.now() - timedelta(minutes=20)).isoformat()
    for n in range(20):  # a group of alerts below the threshold: no rollback yet
        quiet = alertmanager(fingerprint=f"quiet{n}", metric="review_rate")
        quiet["alerts"][0]["annotations"]["value"] = "2.0"
        assert post(client, ALERTS, quiet, secret).status_code == 202
    assert not RollbackRequest.objects.exists()
    loud = alertmanager(fingerprint="loud", metric="review_rate")
    loud["alerts"][0]["annotations"]["value"] = "3.1"
    loud["alerts"][0]["startsAt"] = started
    with django_assert_num_queries(16):
        assert post(client, ALERTS, loud, secret).status_code == 202
    request = RollbackRequest.objects.get()
    assert request.status == RollbackStatus.REQUESTED and request.trigger["value"] == "3.1"

"""ROLL BACK NOW from the war room and the API: one service, linked to the incident, every
step on its timeline, the incident's state in the forensic record."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import EntryKind, IncidentRollback, Stage
from releases import rollbacks
from releases.models import ForensicRecord, RollbackRequest, RollbackStatus
from tests.factories import OpenIncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(oncall_lead, fraud, successor, production):
    return OpenIncidentFactory(
        actor=oncall_lead,
        system=fraud,
        environment=production,
        title="Review rate tripled",
        severity="sev1",
        category="drift",
    )


def test_a_serious_incidents_confirmation_says_the_forensic_record_is_kept_first(
    client, incident, oncall_lead
):
    """Art. 73(6): nothing alters the system before what is live is recorded."""
    from incidents.art73 import rules

    notice = rules()["investigation"]["rollback_notice"].split(":")[0]
    client.force_login(oncall_lead)
    assert notice not in client.get(incident.get_absolute_url()).content.decode()
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Confirm: roll back to" in page and notice in page


def test_the_button_names_both_releases_and_only_pressers_get_it(
    client, incident, successor, live_release, oncall_lead, rollback_owner, viewer
):
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "ROLL BACK NOW" in page
    assert f"Confirm: roll back to {live_release.version}" in page
    assert f'replacing <strong class="mono">{successor.version}</strong>' in page
    client.force_login(viewer)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "disabled>ROLL BACK NOW" in page
    assert "can roll back" in page and rollback_owner.get_full_name() in page
    assert f'action="/incidents/{incident.pk}/rollback/"' not in page


def test_pressing_records_the_request_on_the_timeline_and_runs_it(
    client, incident, rollback_owner, live_release, production
):
    client.force_login(rollback_owner)
    response = client.post(f"/incidents/{incident.pk}/rollback/", {"reason": "Review rate 3x"})
    assert response.status_code == 302
    request = RollbackRequest.objects.get()
    assert IncidentRollback.objects.get().incident == incident
    assert request.status == RollbackStatus.REQUESTED and request.requested_by == rollback_owner
    again = client.post(f"/incidents/{incident.pk}/rollback/", {"reason": "again"})
    assert again.status_code == 302 and RollbackRequest.objects.count() == 1

    rollbacks.run_rollback(request_id=request.pk)
    entries = list(incident.timeline.filter(kind=EntryKind.ROLLBACK).values_list("body", flat=True))
    assert len(entries) == 3
    assert f"requested by {rollback_owner.get_full_name()}: " in entries[0]
    assert entries[1].startswith("Running")
    assert entries[2].startswith(f"Verified: {live_release.version} is live")
    forensics = ForensicRecord.objects.get(request=request)
    assert forensics.context["incident"]["id"] == incident.pk
    assert any("requested by" in e["body"] for e in forensics.context["timeline"])
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-status="succeeded"' in page and "Verified live" in page


def test_a_verified_rollback_puts_an_incident_still_detecting_in_the_rollback_stage(
    incident, rollback_owner, live_release
):
    acknowledged = incident.acknowledged_at
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.run_rollback(request_id=request.pk)

    incident.refresh_from_db()
    assert incident.stage == Stage.ROLLBACK
    # Nothing contained it before: the verified rollback did (mark_contained), so containment
    # counts as done then, not as skipped.
    assert incident.skipped_stages == []
    assert incident.contained_at == incident.rolled_back_at
    assert incident.acknowledged_at == acknowledged  # the worker acknowledges nothing
    assert incident.rolled_back_at >= RollbackRequest.objects.get().finished_at
    moved = incident.timeline.filter(kind=EntryKind.STAGE).get()
    assert (moved.actor, moved.actor_name) == (None, "rollback worker")
    assert moved.body == (
        f"Moved to Rollback. {live_release.version} is live again. Contained by the rollback."
    )


@pytest.mark.parametrize(
    ("stage", "stamped"),
    [(Stage.ROLLBACK, True), (Stage.RECOVERY, False)],  # past it, the rollback was skipped
)
def test_a_rollback_leaves_an_incident_in_or_past_the_rollback_stage_where_it_is(
    incident, oncall_lead, rollback_owner, stage, stamped
):
    services.move_stage(actor=oncall_lead, incident=incident, stage=stage)
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.run_rollback(request_id=request.pk)

    incident.refresh_from_db()
    assert incident.stage == stage
    assert incident.timeline.filter(kind=EntryKind.STAGE).count() == 1  # the lead's move
    if stamped:  # the verified rollback is when that part of the response was done
        assert incident.rolled_back_at >= RollbackRequest.objects.get().finished_at
        assert incident.contained_at == incident.rolled_back_at  # and it contained it
    else:
        assert incident.rolled_back_at is None


def test_a_failed_rollback_moves_no_stage(incident, rollback_owner):
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.fail_rollback(request_id=request.pk, error="HTTP 500 from the deploy hook")

    incident.refresh_from_db()
    assert incident.stage == Stage.DETECTED
    assert not incident.timeline.filter(kind=EntryKind.STAGE).exists()


def test_a_failed_rollback_is_shown_in_red_with_the_options_left(client, incident, rollback_owner):
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.fail_rollback(request_id=request.pk, error="HTTP 500 from the deploy hook")
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'class="rollback-failed"' in page and "HTTP 500 from the deploy hook" in page
    assert "route traffic to a fallback model" in page
    assert "ROLL BACK NOW" in page  # pressing again retries


def test_a_proposal_waits_for_a_rollback_owner(client, incident, rollback_owner, responder):
    request, _ = services.roll_back_incident(
        actor=None,
        incident=incident,
        reason="review_rate > 2.5 for 15 min",
        trigger={"metric": "review_rate", "value": "3.1"},
        propose=True,
    )
    assert request.status == RollbackStatus.PROPOSED
    client.force_login(responder)
    refused = client.post(
        f"/incidents/{incident.pk}/rollback/{request.pk}/", {"decision": "confirm"}
    )
    assert refused.status_code == 403
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "metric=review_rate" in page and "value=3.1" in page
    confirmed = client.post(
        f"/incidents/{incident.pk}/rollback/{request.pk}/", {"decision": "confirm"}
    )
    assert confirmed.status_code == 302
    request.refresh_from_db()
    assert request.status == RollbackStatus.REQUESTED and request.confirmed_by == rollback_owner


def test_the_api_presses_the_same_button(client, incident, oncall_lead, responder):
    client.force_login(responder)
    url = f"/api/incidents/{incident.pk}/rollback/"
    assert client.post(url, {"reason": "x"}, content_type="application/json").status_code == 403
    client.force_login(oncall_lead)
    body = {"reason": "Review rate 3x", "idempotency_key": "pager-4711"}
    first = client.post(url, body, content_type="application/json")
    assert first.status_code == 202, first.content
    assert first.json()["status"] == "requested" and first.json()["to_release"] == "2.0.0"
    second = client.post(url, body, content_type="application/json")
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    read = client.get(f"/api/rollbacks/{first.json()['id']}/")
    assert read.status_code == 200 and read.json()["idempotency_key"] == "pager-4711"
    assert client.post(url, {}, content_type="application/json").status_code == 200  # existing


def test_an_outsider_cannot_see_a_rollback(client, incident, oncall_lead, outsider):
    request, _ = services.roll_back_incident(actor=oncall_lead, incident=incident, reason="x")
    client.force_login(outsider)
    assert client.get(f"/api/rollbacks/{request.pk}/").status_code == 404
    assert client.post(f"/incidents/{incident.pk}/rollback/", {"reason": "x"}).status_code == 404


def test_a_press_reads_and_writes_a_fixed_number_of_rows(
    client, incident, rollback_owner, django_assert_num_queries
):
    # What the on-call lead waits on: the session and the user; the incident and the
    # presser's grants; the incident's lock; one statement for the environment's active
    # rollback, its live release, the plan's target (else the last known good) and whether
    # that was live here; then the request, its link, its audit event, and the timeline
    # entry with its audit event (one statement). No savepoint: inside the test's
    # transaction the press joins it (in production it is the transaction itself).
    client.force_login(rollback_owner)
    with django_assert_num_queries(10):
        response = client.post(f"/incidents/{incident.pk}/rollback/", {"reason": "Review rate 3x"})
    assert response.status_code == 302


def test_the_evidence_holds_what_a_remote_backend_reported_before_the_call(
    incident, rollback_owner, successor, live_release, production, webhook_receiver
):
    # The webhook backend's status is read on a side thread while the incident's evidence
    # is read from the database: both must be in the record, and both before the call.
    webhook_receiver.configure(production)
    webhook_receiver.set_live(successor.version)
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.run_rollback(request_id=request.pk)

    forensics = ForensicRecord.objects.get(request=request)
    assert forensics.backend_state["live_version"] == successor.version
    assert forensics.backend_state["detail"]["status_code"] == 200
    assert forensics.context["incident"]["id"] == incident.pk
    assert any("requested by" in entry["body"] for entry in forensics.context["timeline"])
    calls = [call.method for call in webhook_receiver.calls]
    assert calls[:2] == ["GET", "POST"]  # the status read for the record, then the rollback
    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.SUCCEEDED
    assert webhook_receiver.live_version == live_release.version


def test_the_evidence_keeps_the_newest_alerts_and_the_last_entries_in_order(
    incident, rollback_owner, oncall_lead, fraud, production
):
    from datetime import UTC, datetime, timedelta

    from incidents.models import Alert
    from incidents.services.rollback import FORENSIC_ENTRIES

    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for n in range(FORENSIC_ENTRIES + 5):
        alert = Alert.objects.create(
            system=fraud, environment=production, incident=incident, source="generic",
            fingerprint=f"f{n}", status="firing", name=f"Alert{n}",
            labels={"n": str(n)}, annotations={}, starts_at=start + timedelta(minutes=n),
        )  # fmt: skip
        Alert.objects.filter(pk=alert.pk).update(received_at=start + timedelta(minutes=n))
    for n in range(FORENSIC_ENTRIES):
        services.post_update(actor=oncall_lead, incident=incident, kind="note", body=f"n{n}")
    request, _ = services.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.run_rollback(request_id=request.pk)

    context = ForensicRecord.objects.get(request=request).context
    alerts = context["alerts"]
    assert len(alerts) == FORENSIC_ENTRIES
    newest = FORENSIC_ENTRIES + 4
    assert [a["name"] for a in alerts[:2]] == [f"Alert{newest}", f"Alert{newest - 1}"]
    assert alerts[0]["labels"] == {"n": str(newest)} and alerts[0]["status"] == "firing"
    assert datetime.fromisoformat(alerts[0]["received_at"]) == start + timedelta(minutes=newest)
    assert datetime.fromisoformat(alerts[0]["starts_at"]) == start + timedelta(minutes=newest)
    timeline = context["timeline"]
    assert len(timeline) == FORENSIC_ENTRIES
    assert [entry["id"] for entry in timeline] == sorted(entry["id"] for entry in timeline)
    assert timeline[-1]["body"].startswith("Roll back") and timeline[-1]["actor"] == "rob"
    assert timeline[-2]["body"] == f"n{FORENSIC_ENTRIES - 1}"
    assert datetime.fromisoformat(timeline[-1]["at"]).tzinfo is not None
    assert context["incident"] == {
        "id": incident.pk, "title": incident.title, "severity": incident.severity,
    }  # fmt: skip


# --- after a verified rollback ------------------------------------------------------------


def verified(incident, actor):  # type: ignore[no-untyped-def]
    request, _ = services.roll_back_incident(actor=actor, incident=incident, reason="Review 3x")
    return rollbacks.run_rollback(request_id=request.pk)


def later():  # type: ignore[no-untyped-def]
    """Past the moments after a success in which a late press gets that rollback back."""
    return time_machine.travel(timezone.now() + timedelta(hours=1), tick=False)


def confirm_of(page: str, summary: str) -> str:
    """The text of the confirmation that opens under `summary`."""
    match = re.search(rf"{re.escape(summary)}</summary>(.*?)</form>", page, re.S)
    assert match, f"no confirmation under {summary!r}"
    return re.sub(r"<[^>]+>", "", match.group(1))


def test_after_a_verified_rollback_the_war_room_says_what_is_live_and_does_not_rearm(
    client, incident, live_release, earlier, rollback_owner, viewer
):
    done = verified(incident, rollback_owner)
    at = timezone.localtime(done.finished_at).strftime("%H:%M")
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    poll = client.get(f"/incidents/{incident.pk}/live/?v=stale&after=0").content.decode()
    for shown in (page, poll):  # the page and the partial its poll swaps in
        assert 'data-testid="rollback-now"' not in shown and "Confirm: roll back to" not in shown
        assert "Live: <strong" in shown and ">2.0.0</strong> — the plan's rollback target" in shown
        assert f"put back by the rollback at {at} UTC" in shown
        summary = "Roll back further: 2.0.0 → 1.9.0"
        assert summary in shown
        confirm = confirm_of(shown, summary)
        assert "Puts 1.9.0 live in Production, replacing 2.0.0" in confirm
        assert "Confirm: roll back further to 1.9.0" in confirm
        assert 'name="expected_from" value="2.0.0"' in shown
        assert 'name="expected_target" value="1.9.0"' in shown
    client.force_login(viewer)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "the plan's rollback target" in page
    assert "Roll back further" not in page and 'name="further"' not in page
    assert 'data-testid="rollback-now"' not in page and "disabled>ROLL BACK NOW" not in page


def test_with_nothing_earlier_the_war_room_says_so_and_offers_nothing(
    client, incident, live_release, rollback_owner
):
    verified(incident, rollback_owner)
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "the plan's rollback target" in page and "Nothing earlier to roll back to" in page
    assert 'data-testid="rollback-now"' not in page and "Roll back further" not in page


def test_the_war_room_goes_further_only_when_asked_and_never_on_a_stale_page(
    client, incident, live_release, earlier, rollback_owner
):
    done = verified(incident, rollback_owner)
    client.force_login(rollback_owner)
    url = f"/incidents/{incident.pk}/rollback/"
    with later():
        plain = client.post(url, {"reason": "again"})
    assert plain.status_code == 400 and "roll back further" in plain.content.decode()
    stale = {"reason": "x", "further": "on", "expected_from": "2.1.0", "expected_target": "2.0.0"}
    refused = client.post(url, stale)
    assert refused.status_code == 400 and "out of date" in refused.content.decode()
    assert RollbackRequest.objects.count() == 1

    seen = {"expected_from": "2.0.0", "expected_target": "1.9.0"}
    pressed = client.post(url, {"reason": "Still 3x on 2.0.0", "further": "on", **seen})
    assert pressed.status_code == 302
    further = RollbackRequest.objects.exclude(pk=done.pk).get()
    assert (further.from_release, further.to_release) == (live_release, earlier)
    assert further.incident_link.incident == incident
    entry = incident.timeline.filter(kind=EntryKind.ROLLBACK).order_by("-id").first()
    assert "from 2.0.0 to 1.9.0" in entry.body


def test_the_incidents_api_goes_further_only_when_asked(
    client, incident, live_release, earlier, oncall_lead
):
    verified(incident, oncall_lead)
    client.force_login(oncall_lead)
    url = f"/api/incidents/{incident.pk}/rollback/"
    with later():
        refused = client.post(url, {"reason": "again"}, content_type="application/json")
    assert refused.status_code == 400 and "roll back further" in refused.json()["further"][0]
    stale = {"reason": "x", "further": True, "expected_target": "1.8.0"}
    refused = client.post(url, stale, content_type="application/json")
    assert refused.status_code == 400 and list(refused.json()) == ["expected_target"]
    body = {"reason": "x", "further": True, "expected_from": "2.0.0", "expected_target": "1.9.0"}
    further = client.post(url, body, content_type="application/json")
    assert further.status_code == 202, further.content
    assert (further.json()["from_release"], further.json()["to_release"]) == ("2.0.0", "1.9.0")

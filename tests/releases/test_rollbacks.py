"""Rollback requests: who may ask, one active per environment, the run, its evidence."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from governance.models import AuditEvent
from releases import rollbacks
from releases.models import (
    Deployment,
    ForensicRecord,
    Release,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)
from releases.rollbacks import leases, worker


def ask(actor, environment, **extra):  # type: ignore[no-untyped-def]
    return rollbacks.request_rollback(
        actor=actor, environment=environment, reason="Review rate tripled", **extra
    )


@pytest.mark.django_db
def test_the_target_defaults_to_the_plan_then_the_last_release_live_there(
    successor, live_release, production
):
    assert rollbacks.rollback_target(production) == live_release


@pytest.mark.django_db
def test_a_rollback_owner_asks_and_a_second_press_returns_the_same_request(
    successor, live_release, production, rollback_owner, oncall_lead
):
    request, created = ask(rollback_owner, production)
    assert created and request.status == RollbackStatus.REQUESTED
    assert (request.from_release, request.to_release) == (successor, live_release)
    again, created_again = ask(oncall_lead, production)
    assert again == request and not created_again
    assert RollbackRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="rollback.requested").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["viewer", "responder", "release_manager", "model_owner"])
def test_only_rollback_owners_and_oncall_leads_may_ask(request, successor, production, persona):
    with pytest.raises(PermissionDenied):
        ask(request.getfixturevalue(persona), production)
    assert not RollbackRequest.objects.exists()


@pytest.mark.django_db
def test_nothing_to_roll_back_to_is_a_clear_refusal(live_release, production, rollback_owner):
    with pytest.raises(ValidationError, match="No earlier release"):
        ask(rollback_owner, production)


@pytest.mark.django_db
def test_a_reason_is_required_and_drills_stay_out_of_production(
    successor, production, rollback_owner
):
    with pytest.raises(ValidationError, match="Say why"):
        rollbacks.request_rollback(actor=rollback_owner, environment=production, reason=" ")
    with pytest.raises(ValidationError, match="non-production"):
        ask(rollback_owner, production, drill=True)


@pytest.mark.django_db
def test_the_same_idempotency_key_returns_the_same_request(successor, production, rollback_owner):
    first, _ = ask(rollback_owner, production, idempotency_key="client-key-1")
    RollbackRequest.objects.filter(pk=first.pk).update(status=RollbackStatus.SUCCEEDED)
    again, created = ask(rollback_owner, production, idempotency_key="client-key-1")
    assert again == first and not created


@pytest.mark.django_db
def test_the_run_keeps_the_evidence_then_puts_the_target_live(
    successor, live_release, production, rollback_owner
):
    request, _ = ask(rollback_owner, production)
    done = rollbacks.run_rollback(request_id=request.pk)
    assert done.status == RollbackStatus.SUCCEEDED and done.attempts == 1
    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == live_release and live.via == "rollback"
    assert Release.objects.get(pk=successor.pk).status == ReleaseStatus.ROLLED_BACK
    assert Release.objects.get(pk=live_release.pk).status == ReleaseStatus.LIVE
    forensics = ForensicRecord.objects.get(request=request)
    assert forensics.backend_state["live_version"] == successor.version  # before the change
    assert len(forensics.digest) == 64
    actions = list(
        AuditEvent.objects.filter(object_type="releases.rollbackrequest")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "rollback.requested",
        "rollback.forensics_kept",  # before the backend is changed
        "rollback.running",  # the call made
        "rollback.succeeded",
    ]


@pytest.mark.django_db
def test_a_finished_request_is_not_run_again(successor, production, rollback_owner):
    request, _ = ask(rollback_owner, production)
    rollbacks.run_rollback(request_id=request.pk)
    again = rollbacks.run_rollback(request_id=request.pk)
    assert again.attempts == 1
    assert Deployment.objects.filter(environment=production, via="rollback").count() == 1


@pytest.mark.django_db
def test_leases_run_on_the_databases_clock_not_the_workers(successor, production, rollback_owner):
    request, _ = ask(rollback_owner, production)
    assert worker._claim(request.pk) is not None
    # A second worker whose clock is an hour ahead sees the lease as the database does: held.
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert worker._claim(request.pk) is None
        assert rollbacks.sweep_rollbacks() == 0
    # A lease that ran out has ended for a worker whose clock is an hour behind as well.
    RollbackRequest.objects.filter(pk=request.pk).update(lease_until=Now() - timedelta(seconds=1))
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        assert worker._claim(request.pk).attempts == 2


@pytest.mark.django_db
def test_the_forensic_record_cannot_be_changed(successor, production, rollback_owner):
    request, _ = ask(rollback_owner, production)
    rollbacks.run_rollback(request_id=request.pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ForensicRecord.objects.filter(request=request).update(digest="0" * 64)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_presses_make_one_request(settings, successor, production, rollback_owner):
    settings.ROLLBACK_QUEUE = "rollback-not-consumed"  # no worker runs it behind our back
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def press() -> None:
        try:
            barrier.wait()
            request, created = ask(rollback_owner, production)
            results.append((request.pk, created))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert RollbackRequest.objects.count() == 1


@pytest.mark.django_db
def test_a_run_that_finds_the_evidence_kept_by_another_run_stops_before_the_call(
    successor, live_release, production, rollback_owner
):
    # A run that stalled past its lease while another run took over and kept the evidence:
    # the unique record refuses this run's evidence, and it leaves the call to the other.
    request, _ = ask(rollback_owner, production)
    ForensicRecord.objects.create(
        request=request, captured_at=timezone.now(), backend_state={}, context={}, digest="0" * 64
    )

    run = rollbacks.run_rollback(request_id=request.pk)

    assert run.status == RollbackStatus.RUNNING  # the other run's to finish
    assert ForensicRecord.objects.get(request=request).digest == "0" * 64
    assert rollbacks.live_deployment(production).release == successor  # nothing was called
    assert not AuditEvent.objects.filter(action="rollback.forensics_kept").exists()


@pytest.mark.django_db
def test_a_release_rolled_back_is_never_the_next_target(
    successor, live_release, production, rollback_owner
):
    request, _ = ask(rollback_owner, production)
    rollbacks.run_rollback(request_id=request.pk)
    assert rollbacks.rollback_target(production) is None
    late, created = ask(rollback_owner, production)  # a late press: that rollback is the answer
    assert late == request and not created
    RollbackRequest.objects.filter(pk=request.pk).update(
        finished_at=timezone.now() - timedelta(hours=1)
    )
    with pytest.raises(ValidationError, match="No earlier release"):
        ask(rollback_owner, production)


@pytest.mark.django_db
def test_the_environments_page_rolls_back_and_runs_drills(
    client, successor, live_release, production, staging, rollback_owner, release_manager, viewer
):
    client.force_login(viewer)
    page = client.get(f"/systems/{production.system.slug}/environments/").content.decode()
    assert "ROLL BACK NOW" not in page  # a viewer may not
    client.force_login(rollback_owner)
    page = client.get(f"/systems/{production.system.slug}/environments/").content.decode()
    assert "ROLL BACK NOW" in page and f"Confirm: roll back to {live_release.version}" in page
    url = f"/systems/{production.system.slug}/environments/{production.pk}/rollback/"
    response = client.post(url, {"reason": "Review rate 3x"})
    assert response.status_code == 302
    request = RollbackRequest.objects.get()
    assert request.environment == production and not request.is_drill
    refused = client.post(url.replace(str(production.pk), str(staging.pk)), {"reason": "x"})
    assert refused.status_code == 302  # nothing is live in staging: a message, no request
    assert RollbackRequest.objects.count() == 1
    drill = client.post(url, {"reason": "Quarterly drill", "drill": "on"})
    assert drill.status_code == 302  # production: a drill is refused with a message
    assert RollbackRequest.objects.count() == 1
    client.force_login(viewer)
    assert client.post(url, {"reason": "x"}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_runs_lease_is_renewed_without_ever_waiting_for_its_row(
    settings, successor, production, rollback_owner
):
    settings.ROLLBACK_QUEUE = "rollback-not-consumed"  # the session's worker would run it
    request, _ = ask(rollback_owner, production)
    RollbackRequest.objects.filter(pk=request.pk).update(
        status=RollbackStatus.RUNNING, lease_until=timezone.now()
    )
    leases._renew(request.pk, 15)
    renewed = RollbackRequest.objects.get(pk=request.pk).lease_until
    assert renewed > timezone.now() + timedelta(seconds=14)

    # The run is recording its outcome and holds the row: the renewal skips, at once.
    held, done = threading.Event(), threading.Event()

    def record_outcome() -> None:
        with transaction.atomic():
            RollbackRequest.objects.select_for_update().get(pk=request.pk)
            held.set()
            done.wait(10)
        connection.close()

    holder = threading.Thread(target=record_outcome)
    holder.start()
    assert held.wait(5)
    started = time.monotonic()
    leases._renew(request.pk, 60)
    assert time.monotonic() - started < 2
    done.set()
    holder.join()
    assert RollbackRequest.objects.get(pk=request.pk).lease_until == renewed


# --- after a verified rollback: the plan's target is live, going further is asked by name ----


def rolled_back(actor, environment):  # type: ignore[no-untyped-def]
    request, _ = ask(actor, environment)
    return rollbacks.run_rollback(request_id=request.pk)


def later():  # type: ignore[no-untyped-def]
    """Past the moments after a success in which a late press gets that rollback back."""
    return time_machine.travel(timezone.now() + timedelta(hours=1), tick=False)


@pytest.mark.django_db
def test_after_a_verified_rollback_the_choice_is_to_go_further(
    successor, live_release, earlier, production, rollback_owner
):
    before = rollbacks.rollback_choice(production)
    assert (before.live, before.target, before.further) == (successor, live_release, False)
    done = rolled_back(rollback_owner, production)

    choice = rollbacks.rollback_choice(production)
    assert (choice.live, choice.target, choice.further) == (live_release, earlier, True)
    assert choice.put_back_by == done.pk and choice.put_back_at == done.finished_at
    assert choice.put_back_from == successor.version


@pytest.mark.django_db
def test_a_plain_press_after_a_verified_rollback_never_goes_past_it(
    successor, live_release, earlier, production, rollback_owner, oncall_lead
):
    done = rolled_back(rollback_owner, production)
    late, created = ask(oncall_lead, production)  # moments later: that rollback is the answer
    assert late == done and not created
    with later():
        with pytest.raises(ValidationError, match="roll back further") as refused:
            ask(oncall_lead, production)
        assert refused.value.message_dict.keys() == {"further"}
        assert f"{live_release.version} is live" in str(refused.value)
        trigger = {"metric": "review_rate", "value": "3.1"}
        with pytest.raises(ValidationError, match="roll back further"):  # nor does the plan
            rollbacks.request_rollback(
                actor=None, environment=production, reason="trigger", trigger=trigger
            )
    assert RollbackRequest.objects.count() == 1
    assert rollbacks.live_deployment(production).release == live_release


@pytest.mark.django_db
def test_rolling_back_further_is_asked_by_name_and_names_both_releases(
    successor, live_release, earlier, production, rollback_owner, oncall_lead
):
    rolled_back(rollback_owner, production)
    further, created = ask(
        oncall_lead, production, further=True,
        expected_from=live_release.version, expected_target=earlier.version,
    )  # fmt: skip
    assert created and (further.from_release, further.to_release) == (live_release, earlier)
    event = AuditEvent.objects.filter(action="rollback.requested").order_by("-id").first()
    assert (event.after["from_release"], event.after["to_release"]) == ("2.0.0", "1.9.0")
    rollbacks.run_rollback(request_id=further.pk)
    assert rollbacks.live_deployment(production).release == earlier
    assert Release.objects.get(pk=live_release.pk).status == ReleaseStatus.ROLLED_BACK


@pytest.mark.django_db
def test_a_press_whose_releases_no_longer_hold_is_refused_and_changes_nothing(
    successor, live_release, earlier, production, rollback_owner
):
    # The page said 2.1.0 → 2.0.0; another press has put 2.0.0 back since.
    seen = {"expected_from": successor.version, "expected_target": live_release.version}
    rolled_back(rollback_owner, production)
    with pytest.raises(ValidationError, match="out of date") as refused:
        ask(rollback_owner, production, further=True, **seen)
    assert refused.value.message_dict.keys() == {"expected_from"}
    assert "2.0.0 is live now, not 2.1.0" in str(refused.value)
    # A further press clicked twice: the second finds 1.9.0 live, not the 2.0.0 it named.
    seen = {"expected_from": live_release.version, "expected_target": earlier.version}
    first, _ = ask(rollback_owner, production, further=True, **seen)
    rollbacks.run_rollback(request_id=first.pk)
    with pytest.raises(ValidationError, match="out of date"):
        ask(rollback_owner, production, further=True, **seen)
    with pytest.raises(ValidationError, match="No earlier release"):  # 1.9.0 was the first
        ask(rollback_owner, production, further=True, expected_from="1.9.0")
    assert RollbackRequest.objects.count() == 2
    assert rollbacks.live_deployment(production).release == earlier


@pytest.mark.django_db
def test_a_stale_target_is_refused_before_anything_is_written(
    successor, live_release, earlier, production, rollback_owner
):
    with pytest.raises(ValidationError, match="out of date") as refused:
        ask(rollback_owner, production, expected_from="2.1.0", expected_target="1.9.0")
    assert refused.value.message_dict.keys() == {"expected_target"}
    assert "would put 2.0.0 live, not 1.9.0" in str(refused.value)
    assert not RollbackRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="rollback.").exists()


@pytest.mark.django_db
def test_further_is_refused_where_no_rollback_put_the_live_release_back(
    successor, live_release, production, rollback_owner
):
    with pytest.raises(ValidationError, match="no rollback put it back") as refused:
        ask(rollback_owner, production, further=True)
    assert refused.value.message_dict.keys() == {"further"}
    assert not RollbackRequest.objects.exists()


@pytest.mark.django_db
def test_the_environments_page_offers_to_go_further_only_by_name(
    client, successor, live_release, earlier, production, rollback_owner, viewer
):
    done = rolled_back(rollback_owner, production)
    url = f"/systems/{production.system.slug}/environments/"
    client.force_login(rollback_owner)
    page = client.get(url).content.decode()
    assert "ROLL BACK NOW" not in page
    at = timezone.localtime(done.finished_at).strftime("%H:%M")
    assert f'Live: <strong class="mono">2.0.0</strong> — put back by the rollback at {at}' in page
    assert "Roll back further: 2.0.0 → 1.9.0" in page
    assert 'Puts <strong class="mono">1.9.0</strong> live in Production, replacing' in page
    assert 'name="expected_target" value="1.9.0"' in page
    client.force_login(viewer)
    assert "Roll back further" not in client.get(url).content.decode()

    client.force_login(rollback_owner)
    press = f"{url}{production.pk}/rollback/"
    with later():
        plain = client.post(press, {"reason": "again"}, follow=True)
        assert "roll back further" in plain.content.decode()
    seen = {"expected_from": "2.0.0", "expected_target": "1.9.0"}
    assert client.post(press, {"reason": "Still 3x", "further": "on", **seen}).status_code == 302
    further = RollbackRequest.objects.exclude(pk=done.pk).get()
    assert (further.from_release, further.to_release) == (live_release, earlier)


@pytest.mark.django_db
def test_the_environments_api_goes_further_only_when_asked(
    client, successor, live_release, earlier, production, rollback_owner
):
    rolled_back(rollback_owner, production)
    client.force_login(rollback_owner)
    url = f"/api/environments/{production.pk}/rollback/"
    with later():
        refused = client.post(url, {"reason": "x"}, content_type="application/json")
    assert refused.status_code == 400 and "further" in refused.json()
    stale = {"reason": "x", "further": True, "expected_target": "1.8.0"}
    refused = client.post(url, stale, content_type="application/json")
    assert refused.status_code == 400 and "expected_target" in refused.json()
    body = {"reason": "1.9.0 was the last good", "further": True, "expected_from": "2.0.0"}
    further = client.post(url, body, content_type="application/json")
    assert further.status_code == 202, further.content
    assert (further.json()["from_release"], further.json()["to_release"]) == ("2.0.0", "1.9.0")

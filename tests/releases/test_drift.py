"""Drift: the reconcile compares each backend with the deployment record; an ungoverned
change is one audited drift, one notice, one incident; ROLL BACK NOW puts the recorded
release back; adoption is the only way the observed release enters the record."""

from __future__ import annotations

import socket
import threading
import time
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from governance.models import AuditEvent
from incidents import services as incidents
from incidents.models import Category, EntryKind, Incident, Source
from releases import drift, rollbacks
from releases.drift import notices
from releases.models import (
    BackendType,
    Deployment,
    Drift,
    DriftResolution,
    LocalDeploymentState,
    ReleaseStatus,
    RollbackStatus,
)
from tests.fixtures.releases import rollbacks_held

pytestmark = pytest.mark.django_db


def ungoverned(environment, version):  # type: ignore[no-untyped-def]
    """What someone does outside Failsafe: the platform now serves `version`."""
    LocalDeploymentState.objects.filter(environment=environment).update(live_version=version)


def reconcile(environment) -> str:  # type: ignore[no-untyped-def]
    with mock.patch.object(notices, "send_notices"):
        return drift.reconcile_environment(environment_id=environment.pk)


def test_it_finds_nothing_when_the_backend_reports_the_record(production, live_release):
    assert reconcile(production) == "in_sync"
    assert not Drift.objects.exists() and not Incident.objects.exists()


def test_it_compares_nothing_where_failsafe_never_deployed(production):
    assert reconcile(production) == "no_record"


def test_an_ungoverned_change_is_one_audited_drift_and_one_incident(
    production, live_release, earlier, fraud
):
    ungoverned(production, "1.9.0")

    assert reconcile(production) == "detected"

    found = Drift.objects.get()
    assert found.environment == production and found.recorded_release == live_release
    assert found.observed_version == "1.9.0" and found.observed_release == earlier
    assert found.is_open
    event = AuditEvent.objects.filter(action="drift.detected").get()
    assert event.system_id == fraud.pk and event.actor_name == "system"
    incident = Incident.objects.get()
    assert incident.drift == found and incident.category == Category.UNGOVERNED_CHANGE
    assert incident.source == Source.RECONCILE and incident.declared_by is None
    assert incident.severity == "sev1"  # a high-risk system
    assert "1.9.0" in incident.title and "2.0.0" in incident.title
    assert incident.environment == production and incident.live_release == live_release
    assert incident.timeline.filter(kind=EntryKind.DRIFT).exists()


def test_ten_reconciles_of_one_divergence_make_one_incident(production, live_release):
    ungoverned(production, "9.9.9")

    outcomes = [reconcile(production) for _ in range(10)]

    assert outcomes == ["detected"] + ["drift"] * 9
    assert Drift.objects.get().seen_count == 10
    assert Incident.objects.count() == 1
    assert AuditEvent.objects.filter(action="drift.detected").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reconciles_record_one_drift(production, live_release):
    ungoverned(production, "9.9.9")
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def run() -> None:
        start.wait()
        try:
            outcomes.append(reconcile(production))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["detected"] + ["drift"] * 5
    assert Drift.objects.count() == 1 and Incident.objects.count() == 1


def test_the_database_allows_one_open_drift_per_environment(production, live_release):
    ungoverned(production, "9.9.9")
    reconcile(production)
    first = Drift.objects.get()
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Drift.objects.create(
            environment=production, recorded_release=live_release, observed_version="x",
            first_seen_at=first.first_seen_at, last_seen_at=first.last_seen_at,
        )  # fmt: skip


def test_a_backend_back_on_the_record_resolves_the_drift_on_the_timeline(production, live_release):
    ungoverned(production, "9.9.9")
    reconcile(production)
    ungoverned(production, "2.0.0")

    assert reconcile(production) == "restored"

    found = Drift.objects.get()
    assert found.resolution == DriftResolution.RESTORED and found.resolved_at is not None
    bodies = list(Incident.objects.get().timeline.values_list("body", flat=True))
    assert any("the backend reports 2.0.0 again" in b.lower() for b in bodies), bodies
    assert reconcile(production) == "in_sync"
    # A later divergence is a new drift, and a new incident.
    ungoverned(production, "9.9.8")
    assert reconcile(production) == "detected"
    assert Drift.objects.count() == 2 and Incident.objects.count() == 2


def test_a_change_failsafe_is_making_is_no_drift(production, live_release, earlier, oncall_lead):
    with rollbacks_held():
        rollbacks.request_rollback(actor=oncall_lead, environment=production, reason="Bad.")
    ungoverned(production, "1.9.0")  # the rollback under way, half done

    assert reconcile(production) == "in_flight"
    assert not Drift.objects.exists()


def test_severity_follows_the_system_setting_then_the_risk_tier(production, live_release, fraud):
    fraud.drift_severity = "sev3"
    fraud.save(update_fields=["drift_severity"])
    ungoverned(production, "9.9.9")
    reconcile(production)
    assert Incident.objects.get().severity == "sev3"

    fraud.drift_severity, fraud.risk_category = "", "limited"
    assert fraud.ungoverned_change_severity == "sev2"
    fraud.risk_category = "minimal"
    assert fraud.ungoverned_change_severity == "sev3"


def test_roll_back_now_puts_the_recorded_release_back(
    production, live_release, earlier, oncall_lead
):
    ungoverned(production, "1.9.0")
    reconcile(production)
    incident = Incident.objects.get()
    choice = rollbacks.rollback_choice(production)
    assert choice.restoring and choice.target == live_release and choice.observed == "1.9.0"

    with rollbacks_held():
        request, created = incidents.roll_back_incident(
            actor=oncall_lead, incident=incident, reason="Ungoverned change",
            expected_from="2.0.0", expected_target="2.0.0",
        )  # fmt: skip
    assert created and request.to_release == live_release and request.from_release is None
    with mock.patch("releases.drift.reconcile.schedule_reconcile"):
        rollbacks.run_rollback(request_id=request.pk)

    request.refresh_from_db()
    assert request.status == RollbackStatus.SUCCEEDED
    assert LocalDeploymentState.objects.get(environment=production).live_version == "2.0.0"
    live_release.refresh_from_db()
    earlier.refresh_from_db()
    assert live_release.status == ReleaseStatus.LIVE
    assert earlier.status != ReleaseStatus.ROLLED_BACK  # never recorded live: left as it was
    assert reconcile(production) == "restored"
    bodies = list(incident.timeline.values_list("body", flat=True))
    assert any("reports 2.0.0 again" in b for b in bodies)


def test_adopting_needs_a_release_manager_and_an_approved_release(
    production, live_release, earlier, approved, release_manager, oncall_lead
):
    ungoverned(production, "1.9.0")
    reconcile(production)
    found = Drift.objects.get()

    with pytest.raises(PermissionDenied):
        drift.adopt_drift(actor=oncall_lead, drift=found, reason="Keep it.")
    with pytest.raises(ValidationError, match="approval quorum"):
        drift.adopt_drift(actor=release_manager, drift=found, reason="Keep it.")

    type(earlier).objects.filter(pk=earlier.pk).update(status=ReleaseStatus.APPROVED)
    drift.adopt_drift(actor=release_manager, drift=found, reason="Approved hotfix, INC cited.")

    found.refresh_from_db()
    assert found.resolution == DriftResolution.ADOPTED and found.resolved_by == release_manager
    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == earlier and live.via == "adopt"
    assert AuditEvent.objects.filter(action="drift.adopted").exists()
    assert reconcile(production) == "in_sync"
    entries = Incident.objects.get().timeline.filter(kind=EntryKind.DRIFT)
    assert any("adopted 1.9.0" in e.body for e in entries)


def test_an_unknown_version_cannot_be_adopted(production, live_release, release_manager):
    ungoverned(production, "9.9.9")
    reconcile(production)
    with pytest.raises(ValidationError, match="no Failsafe release"):
        drift.adopt_drift(actor=release_manager, drift=Drift.objects.get(), reason="Keep it.")


def test_the_owners_and_on_call_leads_hear_of_it(
    production, live_release, owner, oncall_lead, release_manager
):
    ungoverned(production, "9.9.9")
    reconcile(production)
    found = Drift.objects.get()

    sent = notices.email_notice(drift_id=found.pk, event="detected", message="Seen.")

    assert sent >= 2 and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert {owner.email, oncall_lead.email} <= set(message.to)
    assert release_manager.email not in message.to
    assert "Ungoverned change" in message.subject and "9.9.9" in message.subject
    assert f"/incidents/{Incident.objects.get().pk}/" in message.body


# --- backends that do not answer ---------------------------------------------------------


def _webhook(environment, url):  # type: ignore[no-untyped-def]
    environment.backend_type = BackendType.WEBHOOK
    environment.backend_config = {"url": url, "status_url": url, "timeout_seconds": 30}
    environment.backend_secrets = {"signing_secret": "s" * 32}
    environment.save()


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/status"


def test_a_dead_backend_is_unknown_not_drift(production, live_release):
    _webhook(production, _dead_url())
    assert reconcile(production) == "unknown"
    assert not Drift.objects.exists()


def test_a_hung_backend_is_unknown_within_the_bound(production, live_release, settings):
    settings.RECONCILE_STATUS_TIMEOUT_SECONDS = 1
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        _webhook(production, f"http://127.0.0.1:{listener.getsockname()[1]}/status")
        started = time.monotonic()
        assert reconcile(production) == "unknown"
        assert time.monotonic() - started < 3  # its own 30 s timeout was capped
    finally:
        listener.close()
    assert not Drift.objects.exists()


def test_a_slow_backend_is_unknown_and_holds_up_no_other(
    production, staging, live_release, webhook_receiver, settings, release_manager
):
    settings.RECONCILE_STATUS_TIMEOUT_SECONDS = 1
    webhook_receiver.configure(production)
    webhook_receiver.set_live("2.0.0")
    webhook_receiver.delay(5, status=True)
    started = time.monotonic()
    assert reconcile(production) == "unknown"
    assert time.monotonic() - started < 3
    assert not Drift.objects.exists()

    webhook_receiver.delay(0, status=True)
    webhook_receiver.set_live("7.7.7")
    assert reconcile(production) == "detected"
    assert Drift.objects.get().observed_version == "7.7.7"


def test_a_release_manager_adopts_through_the_api(  # type: ignore[no-untyped-def]
    client, production, live_release, earlier, release_manager, oncall_lead
):
    url = f"/api/environments/{production.pk}/drift/adopt/"
    client.force_login(release_manager)
    nothing = client.post(url, {"reason": "Keep it."}, content_type="application/json")
    assert nothing.status_code == 409 and "no open drift" in nothing.json()["detail"]
    ungoverned(production, "1.9.0")
    reconcile(production)
    type(earlier).objects.filter(pk=earlier.pk).update(status=ReleaseStatus.APPROVED)
    client.force_login(oncall_lead)
    refused = client.post(url, {"reason": "Keep it."}, content_type="application/json")
    assert refused.status_code == 403 and Drift.objects.get().is_open
    client.force_login(release_manager)
    empty = client.post(url, {"reason": ""}, content_type="application/json")
    assert empty.status_code == 400 and "reason" in empty.json()
    adopted = client.post(url, {"reason": "Approved hotfix."}, content_type="application/json")
    assert adopted.status_code == 200 and adopted.json()["version"] == "1.9.0"
    assert Drift.objects.get().resolution == DriftResolution.ADOPTED


def test_the_war_room_offers_adoption_to_release_managers_only(  # type: ignore[no-untyped-def]
    client, production, live_release, earlier, release_manager, rollback_owner
):
    ungoverned(production, "1.9.0")
    reconcile(production)
    incident = Incident.objects.get()
    room, url = incident.get_absolute_url(), f"/incidents/{incident.pk}/drift/adopt/"
    type(earlier).objects.filter(pk=earlier.pk).update(status=ReleaseStatus.APPROVED)

    client.force_login(rollback_owner)  # may roll back, may not adopt: told who may
    page = client.get(room).content.decode()
    assert 'data-testid="rollback-now"' in page and 'data-testid="drift-adopt"' not in page
    assert 'data-testid="drift-adopters"' in page
    assert client.post(url, {"reason": "Keep it.", "expected": "1.9.0"}).status_code == 403
    assert Drift.objects.get().is_open

    client.force_login(release_manager)
    page = client.get(room).content.decode()
    assert 'data-testid="drift-adopt"' in page and "Keep 1.9.0 live instead" in page
    stale = client.post(url, {"reason": "Keep it.", "expected": "1.8.0"})
    assert stale.status_code == 400 and "out of date" in stale.content.decode()
    assert client.post(url, {"reason": "", "expected": "1.9.0"}).status_code == 400
    assert Drift.objects.get().is_open
    done = client.post(url, {"reason": "Approved hotfix, cited.", "expected": "1.9.0"})
    assert done.status_code == 302 and done.url.startswith(room)
    assert Drift.objects.get().resolution == DriftResolution.ADOPTED
    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == earlier and live.via == "adopt"
    assert 'data-testid="drift-adopt"' not in client.get(room).content.decode()
    assert client.post(url, {"reason": "Again.", "expected": "1.9.0"}).status_code == 400


def test_a_version_failsafe_never_registered_is_explained_not_offered(  # type: ignore[no-untyped-def]
    client, production, live_release, release_manager
):
    ungoverned(production, "9.9.9")
    reconcile(production)
    client.force_login(release_manager)
    page = client.get(Incident.objects.get().get_absolute_url()).content.decode()
    assert 'data-testid="drift-unadoptable"' in page and 'data-testid="drift-adopt"' not in page

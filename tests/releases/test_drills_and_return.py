"""The closed loop of rollbacks: a passed drill is what makes the rollback path "ready" at
the gate, for a while; a release rolled back from an incident comes back only through new
approvals that cite the rollback (and so the incident)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.models import AuditEvent
from incidents import services as incidents
from releases import rollbacks, services
from releases.models import Approval, GateCheck, GateCriterion, Release, ReleaseStatus
from tests.factories import LiveDeploymentFactory, OpenIncidentFactory
from tests.fixtures.releases import pass_every_gate

pytestmark = pytest.mark.django_db

READY = GateCriterion.ROLLBACK_READY


@pytest.fixture
def old_in_staging(live_release, staging, release_manager):
    # before 2.1.0 supersedes it
    LiveDeploymentFactory(release=live_release, actor=release_manager, environment=staging)
    return staging


@pytest.fixture
def drill_ground(old_in_staging, successor, release_manager):
    """Staging has had 2.0.0 and then 2.1.0 live: a drill there can put 2.0.0 back."""
    LiveDeploymentFactory(release=successor, actor=release_manager, environment=old_in_staging)
    return old_in_staging


@pytest.fixture
def candidate(make_release, model_owner):
    return make_release("2.2.0")


def drill(rollback_owner, staging, *, fail: bool = False):  # type: ignore[no-untyped-def]
    request, _ = rollbacks.request_rollback(
        actor=rollback_owner, environment=staging, reason="Quarterly drill", drill=True
    )
    if fail:
        return rollbacks.fail_rollback(request_id=request.pk, error="deploy hook answered 500")
    return rollbacks.run_rollback(request_id=request.pk)


def ready_check(release: Release) -> GateCheck:
    return GateCheck.objects.filter(release=release, criterion=READY).latest("recorded_at", "id")


def test_a_passed_drill_makes_the_rollback_path_ready_for_waiting_releases(
    drill_ground, candidate, rollback_owner, settings
):
    done = drill(rollback_owner, drill_ground)
    check = ready_check(candidate)
    assert check.passed and check.drill == done and check.recorded_by == rollback_owner
    assert check.valid_until == done.finished_at + timedelta(days=settings.ROLLBACK_DRILL_DAYS)
    assert "Drill in Staging (2.1.0 → 2.0.0): verified live" in check.note
    assert check.evidence_uri.endswith(f"/environments/#rollback-{done.pk}")
    assert AuditEvent.objects.filter(action="gate.recorded", object_id=str(check.pk)).exists()
    # A drill changes nothing about the releases themselves.
    assert Release.objects.get(version="2.1.0").status == ReleaseStatus.LIVE


def test_a_failed_drill_leaves_the_criterion_failing(drill_ground, candidate, rollback_owner):
    drill(rollback_owner, drill_ground, fail=True)
    check = ready_check(candidate)
    assert not check.passed and check.valid_until is None
    assert "failed: deploy hook answered 500" in check.note


def test_once_a_drill_is_possible_readiness_is_not_attested_by_hand(
    drill_ground, candidate, model_owner
):
    with pytest.raises(ValidationError, match="rollback drill"):
        services.record_gate_check(
            actor=model_owner, release=candidate, criterion=READY, comparison="attested",
            attested_pass=True, evidence_uri="https://wiki.example.com/trust-me",
        )  # fmt: skip
    assert not GateCheck.objects.filter(release=candidate, criterion=READY).exists()


def test_before_any_drill_is_possible_readiness_is_attested(draft, model_owner, staging):
    check = services.record_gate_check(
        actor=model_owner, release=draft, criterion=READY, comparison="attested",
        attested_pass=True, evidence_uri="https://wiki.example.com/first-release",
    )  # fmt: skip
    assert check.passed and check.drill is None and check.valid_until is None


def test_a_release_registered_after_a_fresh_drill_gets_its_check(
    drill_ground, rollback_owner, make_release
):
    done = drill(rollback_owner, drill_ground)
    later = make_release("2.3.0")
    assert ready_check(later).drill == done


def test_a_drill_too_long_ago_no_longer_counts_at_approval(
    drill_ground, candidate, rollback_owner, model_owner, release_manager, settings
):
    drill(rollback_owner, drill_ground)
    for criterion in GateCriterion:
        if criterion != READY:
            services.record_gate_check(
                actor=model_owner, release=candidate, criterion=criterion, comparison="attested",
                attested_pass=True, evidence_uri=f"https://wiki.example.com/{criterion}",
            )  # fmt: skip
    services.save_rollback_plan(
        actor=model_owner, release=candidate, environment=drill_ground,
        owners=[rollback_owner], mode="manual", cooldown_minutes=30, triggers=[],
    )  # fmt: skip
    services.submit_release(actor=model_owner, release=candidate)
    later = timezone.now() + timedelta(days=settings.ROLLBACK_DRILL_DAYS, hours=1)
    with time_machine.travel(later, tick=False):
        with pytest.raises(ValidationError, match="no longer passes"):
            services.record_approval(
                actor=release_manager, release=candidate, decision="approve", comment="ok"
            )
        # The drill runner is not barred from approving: a drill is the machine's verdict.
        assert not Approval.objects.filter(release=candidate).exists()


def test_the_release_page_shows_the_drill_and_its_expiry(
    client, drill_ground, candidate, rollback_owner, model_owner
):
    drill(rollback_owner, drill_ground)
    client.force_login(model_owner)
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert ">drill<" in page and "valid until" in page


# --- the return of a rolled-back release -------------------------------------------------


@pytest.fixture
def rolled_back(successor, production, oncall_lead, rollback_owner, fraud):
    incident = OpenIncidentFactory(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x"
    )
    rollbacks.run_rollback(request_id=request.pk)
    successor.refresh_from_db()
    assert successor.status == ReleaseStatus.ROLLED_BACK
    return successor, request, incident


def test_a_rolled_back_release_cannot_be_promoted(rolled_back, release_manager, production):
    release, _, _ = rolled_back
    with pytest.raises(ValidationError, match="rolled back"):
        services.promote_release(
            actor=release_manager, release=release, environment=production,
            stage="general_release", traffic_percent=100,
        )  # fmt: skip


def test_its_return_needs_approvals_that_cite_the_rollback(
    rolled_back, release_manager, second_approver
):
    release, request, incident = rolled_back
    with pytest.raises(ValidationError, match="must cite that rollback"):
        services.record_approval(
            actor=release_manager, release=release, decision="approve", comment="fixed upstream"
        )
    with pytest.raises(ValidationError, match="approve or reject its return"):
        services.record_approval(
            actor=release_manager, release=release, decision="request_changes",
            comment="x", cites_rollback=request,
        )  # fmt: skip
    first = services.record_approval(
        actor=release_manager, release=release, decision="approve",
        comment="The upstream feature bug is fixed", cites_rollback=request,
    )  # fmt: skip
    release.refresh_from_db()
    assert release.status == ReleaseStatus.ROLLED_BACK  # one of the two the policy asks
    services.record_approval(
        actor=second_approver, release=release, decision="approve",
        comment="Verified on the replay", cites_rollback=request,
    )  # fmt: skip
    release.refresh_from_db()
    assert release.status == ReleaseStatus.APPROVED
    event = AuditEvent.objects.get(action="release.approve", object_id=str(first.pk))
    assert event.after["cites_rollback"] == request.pk
    assert event.after["incident"] == incident.pk


def test_a_rejected_return_keeps_it_rolled_back(rolled_back, release_manager, second_approver):
    release, request, _ = rolled_back
    services.record_approval(
        actor=release_manager, release=release, decision="reject",
        comment="Not until the segment is retrained", cites_rollback=request,
    )  # fmt: skip
    release.refresh_from_db()
    assert release.status == ReleaseStatus.ROLLED_BACK
    with pytest.raises(ValidationError, match="rejected already"):
        services.record_approval(
            actor=second_approver, release=release, decision="approve", comment="ok",
            cites_rollback=request,
        )  # fmt: skip


def test_the_page_offers_the_return_citing_the_incident(
    client, rolled_back, release_manager, second_approver
):
    release, request, incident = rolled_back
    client.force_login(release_manager)
    page = client.get(release.get_absolute_url()).content.decode()
    assert 'class="takedown"' in page and f"/incidents/{incident.pk}/" in page
    assert f'name="cites_rollback" value="{request.pk}"' in page
    response = client.post(
        f"/releases/{release.pk}/approvals/",
        {"decision": "approve", "comment": "Fixed", "cites_rollback": request.pk},
    )
    assert response.status_code == 302
    returned = Approval.objects.get(
        release=release, approver=release_manager, cites_rollback__isnull=False
    )
    assert returned.cites_rollback == request and returned.comment == "Fixed"


def test_the_api_takes_the_citation(client, rolled_back, second_approver):
    release, request, _ = rolled_back
    client.force_login(second_approver)
    url = f"/api/releases/{release.pk}/approvals/"
    missing = client.post(url, {"decision": "approve", "comment": "ok"}, "application/json")
    assert missing.status_code == 400 and "cites_rollback" in missing.json()
    cited = client.post(
        url, {"decision": "approve", "comment": "ok", "cites_rollback": request.pk},
        "application/json",
    )  # fmt: skip
    assert cited.status_code == 201 and cited.json()["cites_rollback"] == request.pk


def test_a_rolled_back_release_then_approved_goes_live_again(
    rolled_back, release_manager, second_approver, production
):
    release, request, _ = rolled_back
    for approver in (release_manager, second_approver):
        services.record_approval(
            actor=approver, release=release, decision="approve", comment="fixed",
            cites_rollback=request,
        )  # fmt: skip
    LiveDeploymentFactory(
        release=Release.objects.get(pk=release.pk), actor=release_manager, environment=production
    )
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.LIVE


def test_pass_every_gate_is_still_the_fixture_for_first_releases(draft, model_owner):
    pass_every_gate(draft, model_owner)  # no drill possible yet: attestation is accepted
    assert GateCheck.objects.filter(release=draft).count() == len(GateCriterion)

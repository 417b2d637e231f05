"""Declaring incidents and moving them through detection → … → closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance.models import AuditEvent
from incidents import services
from incidents.models import EntryKind, IncidentRoleKind, Stage, TimelineEntry


@pytest.mark.django_db
def test_declaring_captures_the_live_release_and_the_plan_in_force(incident, live_release):
    assert incident.live_release == live_release
    assert incident.release_snapshot["version"] == live_release.version
    assert incident.release_snapshot["stack"]["model"]["version"] == "model-2.0.0"
    assert incident.rollback_plan == live_release.rollback_plan
    assert incident.plan_snapshot["owners"] == ["rob"]
    assert incident.stage == Stage.DETECTED
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == [EntryKind.DECLARED, EntryKind.ROLE]
    assert incident.roles.get().role == IncidentRoleKind.COMMANDER
    assert AuditEvent.objects.filter(action="incident.declared").exists()


@pytest.mark.django_db
def test_the_release_snapshot_does_not_follow_later_deployments(incident, live_release):
    from releases.models import Deployment

    Deployment.objects.all().update(ended_at=timezone.now())
    incident.refresh_from_db()
    assert incident.release_snapshot["version"] == live_release.version


@pytest.mark.django_db
def test_only_on_call_leads_declare(fraud, responder, viewer):
    for person in (responder, viewer):
        with pytest.raises(PermissionDenied):
            services.declare_incident(
                actor=person, system=fraud, title="x", severity="sev3", category="drift"
            )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("severity", "sev9"), ("category", "gremlins"), ("source", "tarot"), ("title", "  ")],
)
def test_bad_declarations_are_refused(fraud, oncall_lead, field, value):
    arguments = {"title": "x", "severity": "sev3", "category": "drift", field: value}
    with pytest.raises(ValidationError) as caught:
        services.declare_incident(actor=oncall_lead, system=fraud, **arguments)
    assert field in caught.value.message_dict


@pytest.mark.django_db
def test_moving_forward_stamps_each_stage_and_records_skips(incident, oncall_lead):
    services.move_stage(actor=oncall_lead, incident=incident, stage="containment")
    incident = services.move_stage(actor=oncall_lead, incident=incident, stage="recovery")
    assert incident.contained_at is not None
    assert incident.rolled_back_at is None  # skipped, not done
    assert incident.skipped_stages == ["rollback"]
    entry = incident.timeline.filter(kind=EntryKind.STAGE).last()
    assert "Skipped: Rollback." in entry.body
    incident = services.move_stage(actor=oncall_lead, incident=incident, stage="review")
    assert incident.recovered_at is not None


@pytest.mark.django_db
def test_the_lifecycle_does_not_go_back_before_review(incident, oncall_lead):
    services.move_stage(actor=oncall_lead, incident=incident, stage="rollback")
    with pytest.raises(ValidationError, match="only moves forward"):
        services.move_stage(actor=oncall_lead, incident=incident, stage="containment")


@pytest.mark.django_db
def test_closing_happens_only_by_publishing(incident, oncall_lead):
    with pytest.raises(ValidationError, match="post-mortem is published"):
        services.move_stage(actor=oncall_lead, incident=incident, stage="closed")


@pytest.mark.django_db
def test_a_reviewed_incident_can_be_reopened_with_a_reason(incident, oncall_lead):
    services.move_stage(actor=oncall_lead, incident=incident, stage="review")
    with pytest.raises(ValidationError) as caught:
        services.move_stage(actor=oncall_lead, incident=incident, stage="containment")
    assert "reason" in caught.value.message_dict
    incident = services.move_stage(
        actor=oncall_lead,
        incident=incident,
        stage="containment",
        reason="Recurred after the hotfix.",
    )
    assert incident.stage == Stage.CONTAINMENT
    assert "Reopened in Containment. Recurred after the hotfix." in incident.timeline.last().body


@pytest.mark.django_db
def test_severity_changes_need_a_reason(incident, oncall_lead):
    with pytest.raises(ValidationError):
        services.change_severity(actor=oncall_lead, incident=incident, severity="sev1", reason="")
    services.change_severity(
        actor=oncall_lead, incident=incident, severity="sev1", reason="Customer-facing declines."
    )
    incident.refresh_from_db()
    assert incident.severity == "sev1"


@pytest.mark.django_db
def test_roles_and_hand_over_are_on_the_timeline(incident, oncall_lead, responder, owner, fraud):
    from governance import services as governance
    from tests.factories import UserFactory

    second_lead = UserFactory(username="lena")
    governance.grant_role(actor=owner, system=fraud, role="oncall_lead", user=second_lead)
    services.assign_role(actor=oncall_lead, incident=incident, role="scribe", user=responder)
    services.assign_role(actor=oncall_lead, incident=incident, role="commander", user=second_lead)
    current = incident.roles.filter(ended_at__isnull=True)
    assert {(r.role, r.user.username) for r in current} == {
        ("scribe", "rhea"),
        ("commander", "lena"),
    }
    assert "(hand-over)" in incident.timeline.filter(kind=EntryKind.ROLE).last().body


@pytest.mark.django_db
def test_a_role_goes_only_to_someone_on_the_system(incident, oncall_lead, outsider):
    with pytest.raises(ValidationError):
        services.assign_role(actor=oncall_lead, incident=incident, role="responder", user=outsider)


@pytest.mark.django_db
def test_responders_add_notes_but_not_status_updates(incident, responder):
    services.post_update(actor=responder, incident=incident, body="Spike is in mobile only.")
    with pytest.raises(PermissionDenied):
        services.post_update(
            actor=responder, incident=incident, body="All clear", kind=EntryKind.STATUS_UPDATE
        )


@pytest.mark.django_db
def test_the_scribe_posts_status_updates(incident, oncall_lead, responder):
    services.assign_role(actor=oncall_lead, incident=incident, role="scribe", user=responder)
    entry = services.post_update(
        actor=responder, incident=incident, body="Mitigated.", kind=EntryKind.STATUS_UPDATE
    )
    assert entry.kind == EntryKind.STATUS_UPDATE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE incidents_timelineentry SET body = 'edited' WHERE incident_id = %s",
        "DELETE FROM incidents_timelineentry WHERE incident_id = %s",
    ],
)
def test_the_timeline_cannot_be_edited_or_deleted(incident, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [incident.pk])
    assert TimelineEntry.objects.filter(incident=incident).count() == 2


@pytest.mark.django_db
def test_time_to_acknowledge_counts_from_detection(fraud, oncall_lead, production, live_release):
    detected = timezone.now() - timedelta(minutes=20)
    with time_machine.travel(detected + timedelta(minutes=4), tick=False):
        incident = services.declare_incident(
            actor=oncall_lead,
            system=fraud,
            environment=production,
            title="Drift",
            severity="sev3",
            category="drift",
            detected_at=detected,
        )
    assert incident.acknowledged_at - incident.detected_at == timedelta(minutes=4)

"""Containment actions, pins, serious-incident reporting and the post-mortem."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incidents import services
from incidents.art73 import reporting_clock
from incidents.models import Stage


@pytest.mark.django_db
def test_containment_goes_requested_done_undone(incident, responder):
    action = services.request_containment(
        actor=responder, incident=incident, kind="route_fallback", target="fraud-gbm v1.9 → rules"
    )
    action = services.set_containment_status(actor=responder, action=action, status="done")
    assert action.done_by == responder and action.done_at is not None
    with pytest.raises(ValidationError):
        services.set_containment_status(actor=responder, action=action, status="done")
    action = services.set_containment_status(actor=responder, action=action, status="undone")
    bodies = list(incident.timeline.values_list("body", flat=True))
    assert any("(done)" in b for b in bodies) and any("(undone)" in b for b in bodies)


@pytest.mark.django_db
def test_viewers_take_no_containment_action(incident, viewer):
    with pytest.raises(PermissionDenied):
        services.request_containment(actor=viewer, incident=incident, kind="block_rule", target="x")


@pytest.mark.django_db
def test_pinning_leaves_the_entry_untouched(incident, responder):
    entry = services.post_update(actor=responder, incident=incident, body="Root cause found.")
    services.pin_entry(actor=responder, entry=entry)
    with pytest.raises(ValidationError):
        services.pin_entry(actor=responder, entry=entry)
    entry.refresh_from_db()
    assert entry.pin.pinned_by == responder


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("harm", "death", "widespread", "days", "article"),
    [
        ("fundamental_rights", False, False, 15, "Art. 73(2)"),
        ("death_or_health", True, False, 10, "Art. 73(4)"),
        ("critical_infrastructure", False, False, 2, "Art. 73(3)"),
        ("fundamental_rights", False, True, 2, "Art. 73(3)"),
        ("death_or_health", False, False, 15, "Art. 73(2)"),
    ],
)
def test_the_reporting_clock_follows_article_73(
    incident, oncall_lead, harm, death, widespread, days, article
):
    aware = timezone.now() - timedelta(hours=3)
    incident = services.classify_serious(
        actor=oncall_lead,
        incident=incident,
        harm_categories=[harm],
        aware_at=aware,
        involves_death=death,
        widespread_infringement=widespread,
    )
    clock = reporting_clock(incident)
    assert (clock.days, clock.article) == (days, article)
    assert clock.deadline == aware + timedelta(days=days)  # UTC days: 24 h each at the most


@pytest.mark.django_db
def test_the_clock_warns_as_the_deadline_nears(incident, oncall_lead):
    aware = timezone.now() - timedelta(days=14)
    incident = services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"], aware_at=aware
    )
    clock = reporting_clock(incident)
    assert clock.state(timezone.now(), first_report=None) == "due_soon"
    assert clock.state(timezone.now() + timedelta(days=2), first_report=None) == "overdue"
    assert clock.state(timezone.now(), first_report=timezone.now()) == "reported"


@pytest.mark.django_db
def test_initial_then_complete_report(incident, oncall_lead):
    with pytest.raises(ValidationError):
        services.record_report_sent(actor=oncall_lead, incident=incident, complete=False)
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    services.record_report_sent(actor=oncall_lead, incident=incident, complete=False)
    incident = services.record_report_sent(actor=oncall_lead, incident=incident, complete=True)
    assert incident.initial_report_sent_at and incident.complete_report_sent_at
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_report_sent(actor=oncall_lead, incident=incident, complete=True)


POSTMORTEM = {
    "summary": "Threshold policy 0.85 shipped with a unit mismatch.",
    "impact": "12% of mobile payments held for review for 47 minutes.",
    "root_cause_model": "Threshold applied to uncalibrated scores.",
    "detection_gaps": "No alert on review rate per channel.",
}


@pytest.mark.django_db
def test_publishing_needs_owners_on_every_action_item(incident, oncall_lead, responder):
    services.move_stage(actor=oncall_lead, incident=incident, stage="review")
    services.save_postmortem(actor=responder, incident=incident, **POSTMORTEM)
    item = services.add_action_item(
        actor=responder, incident=incident, title="Alert on review rate per channel"
    )
    with pytest.raises(ValidationError) as caught:
        services.publish_postmortem(actor=oncall_lead, incident=incident)
    assert caught.value.messages == ["1 action item has no owner."]
    services.update_action_item(
        actor=responder,
        item=item,
        owner=responder,
        due_date=date.today() + timedelta(days=14),
        status="open",
    )
    incident = services.publish_postmortem(actor=oncall_lead, incident=incident)
    assert incident.stage == Stage.CLOSED and incident.closed_at is not None
    with pytest.raises(ValidationError, match="published"):
        services.save_postmortem(actor=responder, incident=incident, summary="changed")


@pytest.mark.django_db
def test_publishing_lists_what_the_postmortem_lacks(incident, oncall_lead, responder):
    services.save_postmortem(actor=responder, incident=incident, summary="s")
    with pytest.raises(ValidationError) as caught:
        services.publish_postmortem(actor=oncall_lead, incident=incident)
    assert "Name the root cause in code, model or data." in caught.value.messages
    assert "Move the incident to the post-incident review first." in caught.value.messages

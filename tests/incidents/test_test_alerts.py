"""Test alerts: an owner sends one from the alert-tokens page through the real intake."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.models import Alert, EntryKind
from incidents.services.alerts.test_alert import send_test_alert, triggers_to_try
from releases.models import RollbackRequest, RollbackStatus

pytestmark = pytest.mark.django_db


def test_it_opens_an_incident_marked_as_a_test(owner, fraud, production):
    alert = send_test_alert(actor=owner, system=fraud, environment=production)
    assert alert.is_test and alert.source == "test"
    incident = alert.incident
    assert incident is not None and incident.severity == "sev3"
    entry = incident.timeline.get(kind=EntryKind.ALERT, data__alert=alert.pk)
    assert entry.body.startswith(f"Test alert from {owner.get_username()}.")
    assert entry.data["test"] is True


def test_a_trigger_leaves_a_proposal_for_the_rollback_owner(owner, fraud, earlier, production):
    trigger = triggers_to_try(production).first()
    assert trigger is not None, "the live release's plan has an alert-driven trigger"
    alert = send_test_alert(actor=owner, system=fraud, environment=production, trigger=trigger)
    proposal = RollbackRequest.objects.get(environment=production)
    assert proposal.status == RollbackStatus.PROPOSED
    assert alert.incident is not None
    assert alert.incident.timeline.filter(data__test=True).exists()


def test_only_owners_send_one(oncall_lead, fraud, production):
    with pytest.raises(PermissionDenied):
        send_test_alert(actor=oncall_lead, system=fraud, environment=production)
    assert not Alert.objects.exists()


def test_an_environment_of_another_system_is_refused(owner, fraud, other_system):
    from releases.models import Environment

    elsewhere = Environment.objects.create(system=other_system, name="Prod", slug="prod")
    with pytest.raises(ValidationError):
        send_test_alert(actor=owner, system=fraud, environment=elsewhere)
    assert not Alert.objects.exists()


def test_the_page_sends_it_and_shows_the_incident(client, owner, fraud, production):
    client.force_login(owner)
    page = client.get(f"/systems/{fraud.slug}/alert-tokens/").content.decode()
    assert "Send a test alert" in page
    response = client.post(
        f"/systems/{fraud.slug}/alert-tokens/test/", {"environment": production.pk}
    )
    alert = Alert.objects.get()
    assert response.status_code == 302
    assert response["Location"] == alert.incident.get_absolute_url()  # type: ignore[union-attr]
    room = client.get(response["Location"]).content.decode()
    assert "marked as a test" in room
    assert 'class="badge alert-test"' in room


def test_the_page_refuses_bad_input_without_a_500(client, owner, fraud, production):
    client.force_login(owner)
    response = client.post(
        f"/systems/{fraud.slug}/alert-tokens/test/", {"environment": "nope", "trigger": "x"}
    )
    assert response.status_code == 400
    assert not Alert.objects.exists()

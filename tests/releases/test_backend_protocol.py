"""What every deployment backend is given: a rollback's context is never optional, and the
rollback service builds it from the request (the presser's reason, who asked, the incident)."""

from __future__ import annotations

import inspect

import pytest

from governance.people import person_label
from incidents import services as incidents
from releases import backends, rollbacks
from releases.backends import RollbackContext
from releases.models import BackendType
from tests.factories import OpenIncidentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("backend_type", BackendType.values)
def test_every_backend_must_be_given_the_rollback_context(backend_type):
    factory = backends._registry[backend_type]
    context = inspect.signature(factory.rollback).parameters["context"]  # type: ignore[attr-defined]

    assert context.kind is inspect.Parameter.KEYWORD_ONLY
    assert context.default is inspect.Parameter.empty, "a caller could leave it out"


def test_the_context_of_a_press_from_an_incident(
    settings, fraud, successor, production, oncall_lead, rollback_owner
):
    settings.SITE_URL = "https://failsafe.example.com"
    incident = OpenIncidentFactory(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x"
    )

    assert rollbacks.rollback_context(request) == RollbackContext(
        reason="Review rate 3x",
        requested_by=person_label(rollback_owner),
        incident=f"INC-{incident.pk}",
        incident_title="Review rate tripled",
        incident_url=f"https://failsafe.example.com/incidents/{incident.pk}/",
        request_id=request.pk,
    )


def test_the_context_of_a_proposal_of_the_plan_a_rollback_owner_confirmed(
    successor, production, rollback_owner
):
    request, _ = rollbacks.request_rollback(
        actor=None, environment=production, reason="p95_latency_ms > 300 for 5 min",
        trigger={"metric": "p95_latency_ms"}, propose=True,
    )  # fmt: skip
    request = rollbacks.confirm_rollback(actor=rollback_owner, request=request)

    context = rollbacks.rollback_context(request)

    assert (context.requested_by, context.confirmed_by) == (
        "rollback plan",
        person_label(rollback_owner),
    )
    assert context.asked_by == f"rollback plan, confirmed by {person_label(rollback_owner)}"
    assert context.incident is None and context.incident_url is None
    assert context.reason == "p95_latency_ms > 300 for 5 min"

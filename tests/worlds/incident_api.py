"""The incidents API's world (its routes: tests/incidents/api_routes.py): the war room's rows,
and an incident in review with its post-mortem written, to publish."""

from __future__ import annotations

import pytest

from incidents import services
from tests.factories import OpenIncidentFactory
from tests.incidents.war_room_routes import incident_rows


@pytest.fixture
def incident_api_world(successor, incident, production, oncall_lead, responder, people):  # type: ignore[no-untyped-def]
    # 2.1.0 goes live before the incident: an open SEV2 freezes promotions (change freeze).
    rows = incident_rows(incident, oncall_lead, responder)
    review = OpenIncidentFactory(
        actor=oncall_lead,
        system=incident.system,
        environment=None,
        title="Done",
        severity="sev4",
        category="drift",
    )
    services.move_stage(actor=oncall_lead, incident=review, stage="review", reason="Fixed")
    services.save_postmortem(
        actor=responder,
        incident=review,
        summary="s",
        impact="i",
        root_cause_data="d",
        detection_gaps="g",
    )
    return people, {**rows, "production": production.pk, "review": review.pk}

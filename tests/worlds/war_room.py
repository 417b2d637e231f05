"""The war room's world (its routes: tests/incidents/war_room_routes.py): the open incident
with an ML lead assigned, and the rows its actions name."""

from __future__ import annotations

import pytest

from incidents import services
from tests.incidents.war_room_routes import incident_rows


@pytest.fixture
def war_room_world(successor, incident, oncall_lead, responder, people):  # type: ignore[no-untyped-def]
    # 2.1.0 goes live before the incident: an open SEV2 freezes promotions (change freeze).
    ml_lead = services.assign_role(
        actor=oncall_lead, incident=incident, role="ml_lead", user=responder
    )
    ids = {
        **incident_rows(incident, oncall_lead, responder),
        "assignment": ml_lead.pk,
        "entry": incident.timeline.order_by("id").first().pk,  # type: ignore[union-attr]
        "fraud": incident.system_id,
    }
    return people, ids

"""The post-mortem pages' world (their routes: tests/incidents/test_postmortem_pages.py): the
open incident with an action item, and an incident in review whose post-mortem is ready to
publish."""

from __future__ import annotations

import pytest

from incidents import services
from tests.factories import OpenIncidentFactory

# A post-mortem with what publishing asks for (the pages' tests write it too).
POSTMORTEM = {
    "summary": "Threshold policy 0.85 shipped with a unit mismatch.",
    "impact": "12% of mobile payments held for review for 47 minutes.",
    "root_cause_model": "Threshold applied to uncalibrated scores.",
    "detection_gaps": "No alert on review rate per channel.",
}


@pytest.fixture
def postmortem_world(
    incident,
    oncall_lead,
    responder,
    people,
):
    ready = OpenIncidentFactory(
        actor=oncall_lead,
        system=incident.system,
        environment=None,
        title="Ready",
        severity="sev3",
        category="drift",
    )
    services.move_stage(actor=oncall_lead, incident=ready, stage="review")
    services.save_postmortem(actor=responder, incident=ready, **POSTMORTEM)
    services.add_action_item(actor=responder, incident=ready, title="Owned", owner=responder)
    item = services.add_action_item(actor=responder, incident=incident, title="Alert per channel")
    return people, {"incident": incident.pk, "ready": ready.pk, "item": item.pk}

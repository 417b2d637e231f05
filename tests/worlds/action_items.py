"""The action items page's world (its routes: tests/incidents/test_action_items_page.py): an
action item on the open incident, owned by the viewer."""

from __future__ import annotations

import pytest

from incidents import services


@pytest.fixture
def action_items_world(
    incident,
    responder,
    viewer,
    people,
):
    services.add_action_item(actor=responder, incident=incident, title="Alert", owner=viewer)
    return people, {}

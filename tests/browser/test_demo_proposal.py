"""The demo in a real browser: the rollback owner finds the ongoing incident's proposed
rollback ready for the one-click confirm, and the dashboard shows its figures unhovered."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.demo import DEMO_PASSWORD, load_demo
from incidents.models import Incident, Stage
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_the_demo_leaves_a_proposal_to_confirm(page, screenshot):  # type: ignore[no-untyped-def]
    load_demo()
    ongoing = Incident.objects.get(stage=Stage.CONTAINMENT, severity="sev2")
    rob = page(None)
    login(rob, "rob", DEMO_PASSWORD)
    rob.goto(ongoing.get_absolute_url())
    expect(rob.get_by_role("button", name="Confirm rollback to")).to_be_visible()
    screenshot(rob, "demo-proposal.png")
    rob.goto("/incidents/dashboard/")
    expect(rob.get_by_label("Figures by week")).to_be_visible()
    screenshot(rob, "dashboard-figures.png")

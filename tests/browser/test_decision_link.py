"""The link in a proposal's email, opened on a phone: the proposal, its evidence and one big
Confirm button, which starts the rollback."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidents import services as incidents
from releases.models import RollbackRequest, RollbackStatus
from releases.rollbacks.decision_links import decision_url

pytestmark = pytest.mark.browser


def test_a_rollback_owner_confirms_the_proposal_from_the_emailed_link(  # type: ignore[no-untyped-def]
    page, screenshot, rollback_owner, incident, earlier
):
    proposal, _ = incidents.roll_back_incident(
        actor=None, incident=incident, reason="The rollback plan's trigger held: review_rate "
        "> 2.5 for 15 min (value 3.1).", propose=True,
        trigger={"metric": "review_rate", "comparison": ">", "threshold": "2.5",
                 "window_minutes": 15, "value": "3.1"},
    )  # fmt: skip
    owner = page(rollback_owner)
    owner.set_viewport_size({"width": 390, "height": 844})  # opened from the email, on a phone
    owner.goto(decision_url(proposal))
    confirm = owner.get_by_test_id("decision-confirm")
    expect(confirm).to_have_text(f"Confirm: roll back to {earlier.version}")
    box = confirm.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844  # on the first screen
    screenshot(owner, "decision-link-phone.png")
    confirm.click()
    expect(owner.locator(".flash")).to_contain_text("Confirmed")
    assert RollbackRequest.objects.get(pk=proposal.pk).status != RollbackStatus.PROPOSED

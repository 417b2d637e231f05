"""A test alert in a real browser: the owner sends one from the alert-tokens page speaking
for the plan's trigger; the rollback owner finds the proposal it left and can confirm it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_owner_sends_a_test_alert_and_the_rollback_owner_sees_the_proposal(  # type: ignore[no-untyped-def]
    page, screenshot, owner, rollback_owner, fraud, production, earlier, live_release
):
    tokens = page(owner)
    tokens.goto(f"/systems/{fraud.slug}/alert-tokens/")
    card = tokens.locator("#test-alert")
    expect(card).to_contain_text("Send a test alert")
    card.get_by_label("Make it speak for").select_option(index=1)
    screenshot(tokens, "test-alert-form.png")
    card.get_by_role("button", name="Send test alert").click()
    expect(tokens.locator(".flash")).to_contain_text("marked as a test")
    expect(tokens.locator(".flash")).to_contain_text("A rollback is proposed")
    expect(tokens.locator("#incident-alerts .alert-test")).to_have_text("Test")
    expect(tokens.locator("#timeline-entries")).to_contain_text(
        f"Test alert from {owner.get_username()}."
    )
    screenshot(tokens, "test-alert-war-room.png")

    confirmer = page(rollback_owner)
    confirmer.goto(tokens.url)
    expect(
        confirmer.get_by_role("button", name=f"Confirm rollback to {earlier.version}")
    ).to_be_visible()

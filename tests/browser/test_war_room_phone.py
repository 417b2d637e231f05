"""The war room on a phone (390x844): the first screen says what the incident is, where it
stands, what is live against the rollback target, and holds the decisive control; the site
navigation folds into a menu. The same page at 1440x900 keeps its two columns."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from incidents import services as incidents
from incidents.models import Incident

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
NOTES = 12  # a war room some way into an incident: a timeline several screens long


def busy_incident(lead, fraud, production) -> Incident:  # type: ignore[no-untyped-def]
    incident = incidents.declare_incident(
        actor=lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    for n in range(NOTES):
        incidents.post_update(
            actor=lead, incident=incident,
            body=f"Check {n + 1}: review rate still at 3x baseline on card-not-present payments.",
        )  # fmt: skip
    return incident


def assert_in_first_screen(page: Page, locator) -> None:  # type: ignore[no-untyped-def]
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None
    viewport = page.viewport_size
    assert viewport is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box


def test_roll_back_now_is_on_a_phones_first_screen(  # type: ignore[no-untyped-def]
    page, screenshot, artifacts_dir, oncall_lead, fraud, production, successor, live_release
):
    incident = busy_incident(oncall_lead, fraud, production)
    phone = page(oncall_lead)
    phone.set_viewport_size(PHONE)
    phone.goto(incident.get_absolute_url())

    assert_in_first_screen(phone, phone.get_by_role("heading", level=1))
    assert_in_first_screen(phone, phone.locator("#incident-status .sev"))
    assert_in_first_screen(phone, phone.locator("#incident-status .badge.stage"))
    assert_in_first_screen(phone, phone.locator(".release-side.is-live"))
    assert_in_first_screen(phone, phone.locator(".release-side.is-target"))
    assert_in_first_screen(phone, phone.get_by_test_id("rollback-now"))
    phone.screenshot(path=str(artifacts_dir / "war-room-phone-first-screen.png"))
    screenshot(phone, "war-room-phone.png")

    # The confirmation opens in place, still on the first screens.
    phone.get_by_test_id("rollback-now").click()
    expect(
        phone.get_by_role("button", name=f"Confirm: roll back to {live_release.version}")
    ).to_be_visible()


def test_a_proposed_rollbacks_confirm_is_on_a_phones_first_screen(  # type: ignore[no-untyped-def]
    page,
    screenshot,
    artifacts_dir,
    oncall_lead,
    rollback_owner,
    fraud,
    production,
    successor,
    live_release,
):
    incident = busy_incident(oncall_lead, fraud, production)
    incidents.roll_back_incident(
        actor=None, incident=incident, reason="review_rate > 2.5 for 15 min",
        trigger={"metric": "review_rate", "value": "3.1"}, propose=True,
    )  # fmt: skip
    phone = page(rollback_owner)
    phone.set_viewport_size(PHONE)
    phone.goto(incident.get_absolute_url())

    confirm = phone.get_by_role("button", name=f"Confirm rollback to {live_release.version}")
    assert_in_first_screen(phone, confirm)
    phone.screenshot(path=str(artifacts_dir / "war-room-phone-proposal-first-screen.png"))
    screenshot(phone, "war-room-phone-proposal.png")


def test_the_navigation_folds_into_a_menu_on_a_phone(  # type: ignore[no-untyped-def]
    page, artifacts_dir, oncall_lead, fraud, production, successor
):
    incident = busy_incident(oncall_lead, fraud, production)
    phone = page(oncall_lead)
    phone.set_viewport_size(PHONE)
    phone.goto(incident.get_absolute_url())
    menu = phone.get_by_role("button", name="Menu")
    nav = phone.get_by_role("navigation", name="Main")

    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    menu.focus()
    phone.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="API tokens")).to_be_visible()
    phone.screenshot(path=str(artifacts_dir / "war-room-phone-menu-open.png"))
    phone.keyboard.press("Escape")  # closes, and focus goes back to the button
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()


def test_the_war_room_keeps_its_columns_on_a_desktop(  # type: ignore[no-untyped-def]
    page, screenshot, oncall_lead, fraud, production, successor
):
    incident = busy_incident(oncall_lead, fraud, production)
    desktop = page(oncall_lead)
    desktop.set_viewport_size(DESKTOP)
    desktop.goto(incident.get_absolute_url())

    expect(desktop.get_by_role("button", name="Menu")).to_be_hidden()
    expect(desktop.get_by_role("navigation", name="Main")).to_be_visible()
    timeline = desktop.locator("#timeline").bounding_box()
    release = desktop.locator("#release").bounding_box()
    assert timeline and release
    assert release["x"] > timeline["x"] + timeline["width"] - 1  # side by side
    assert abs(release["y"] - timeline["y"]) < 2  # both columns start together
    assert_in_first_screen(desktop, desktop.get_by_test_id("rollback-now"))
    screenshot(desktop, "war-room-desktop.png")

"""A refusal of a request made in place (htmx) is said on the page, not swallowed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.models import RoleGrant
from governance.roles import Role

pytestmark = pytest.mark.browser


def test_a_role_lost_while_the_page_was_open_is_said_where_the_click_was(
    page, screenshot, owner, fraud, oncall_lead
):
    browser_page = page(owner)
    browser_page.goto("/systems/fraud/")
    panel = browser_page.locator("#roles-panel")
    # Another owner demotes them while their page is open.
    RoleGrant.objects.filter(system=fraud, user=owner, role=Role.OWNER).update(role=Role.VIEWER)

    panel.get_by_label("Person").fill(oncall_lead.username)
    panel.get_by_label("Role").select_option(label="Responder")
    panel.get_by_role("button", name="Grant role").click()

    alert = browser_page.locator("[data-request-failure]")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("You may not grant and revoke roles on Card fraud screening")
    assert alert.bounding_box()["y"] < 300, "said at the top of the page, where it is seen"
    screenshot(browser_page, "refusal-in-place.png")
    # The same click again says it once, not twice.
    panel.get_by_role("button", name="Grant role").click()
    expect(browser_page.locator("[data-request-failure]")).to_have_count(1)
    granted = RoleGrant.objects.filter(system=fraud, user=oncall_lead, role=Role.RESPONDER)
    assert not granted.exists()


def test_a_server_that_cannot_be_reached_is_said_too(page, owner, fraud, oncall_lead):
    browser_page = page(owner)
    browser_page.goto("/systems/fraud/")
    page.allow_failure("/systems/fraud/roles/")
    browser_page.route("**/roles/**", lambda route: route.abort("connectionrefused"))
    panel = browser_page.locator("#roles-panel")
    panel.get_by_label("Person").fill(oncall_lead.username)
    panel.get_by_label("Role").select_option(label="Responder")
    panel.get_by_role("button", name="Grant role").click()
    expect(browser_page.locator("[data-request-failure]")).to_contain_text("could not be reached")

"""The roles panel in a real browser: htmx grants and revokes, with CSRF from <body>."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance.models import AuditEvent, RoleGrant
from governance.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_an_owner_grants_and_revokes_a_role_without_leaving_the_page(
    page, screenshot, owner, fraud, release_manager, oncall_lead, viewer
):
    newcomer = UserFactory(username="nadia", first_name="Nadia", last_name="Haddad")
    browser_page = page(owner)
    browser_page.goto("/systems/fraud/")
    panel = browser_page.locator("#roles-panel")
    rows = panel.locator("tbody tr")
    expect(rows).to_have_count(4)
    loads = []
    browser_page.on("load", lambda _: loads.append(True))

    # Nothing chosen: the errors come back inside the panel, and nothing is granted.
    panel.get_by_role("button", name="Grant role").click()
    expect(panel.get_by_role("alert").first).to_be_visible()
    expect(panel).to_contain_text("Choose either a user or a group.")
    expect(panel).to_contain_text("This field is required.")
    screenshot(browser_page, "roles-panel-errors.png")

    # Nadia shares no system with the owner: found by her exact username, then chosen.
    panel.get_by_label("Person").fill("nadia")
    expect(panel.locator("[data-person='nadia']")).to_be_visible()
    screenshot(browser_page, "roles-person-search.png")
    panel.locator("[data-person='nadia']").click()
    expect(panel.get_by_label("Person")).to_have_value("nadia")
    panel.get_by_label("Role").select_option(label="Responder")
    panel.get_by_role("button", name="Grant role").click()
    granted = rows.filter(has_text="Nadia Haddad")
    expect(granted).to_contain_text("Responder")
    expect(rows).to_have_count(5)
    expect(panel.get_by_role("alert")).to_have_count(0)
    screenshot(browser_page, "roles-panel.png")

    browser_page.once("dialog", lambda dialog: dialog.accept())
    granted.get_by_role("button", name="Revoke").click()
    expect(rows).to_have_count(4)
    expect(granted).to_have_count(0)

    assert loads == [], "the panel must update in place, without reloading the page"
    assert not RoleGrant.objects.filter(system=fraud, user=newcomer).exists()
    actions = list(
        AuditEvent.objects.filter(system=fraud, object_repr__startswith="nadia")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["role.granted", "role.revoked"]
    assert RoleGrant.objects.filter(system=fraud, role=Role.OWNER).count() == 1


def test_a_system_the_user_holds_no_role_on_answers_not_found(
    page, screenshot, viewer, other_system
):
    browser_page = page(viewer)
    response = browser_page.goto(f"/systems/{other_system.slug}/")
    assert response is not None and response.status == 404
    expect(browser_page.get_by_role("heading", level=1)).to_have_text("Not found")
    screenshot(browser_page, "not-found.png")

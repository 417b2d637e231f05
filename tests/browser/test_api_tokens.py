"""API tokens in a real browser: created with the secret shown once, used (the audit trail
names the token), then revoked."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from governance.models import ApiToken

pytestmark = pytest.mark.browser


def test_a_release_manager_creates_uses_and_revokes_a_token(
    page, screenshot, live_server, release_manager, fraud, submitted
):
    browser_page = page(release_manager)
    browser_page.goto("/")
    browser_page.get_by_role("link", name="API tokens").click()
    panel = browser_page.locator("#api-tokens")
    expect(panel).to_contain_text("No API tokens yet.")
    loads = []
    browser_page.on("load", lambda _: loads.append(True))

    panel.get_by_label("Name").fill("release bot (CI)")
    panel.get_by_label("AI system").select_option(label=fraud.name)
    panel.get_by_role("button", name="Create token").click()
    secret_box = panel.locator("#new-token")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("fsk_")
    expect(panel).to_contain_text("it will not be shown again")
    screenshot(browser_page, "api-token-created.png")

    # The token works as its owner on its one system, from outside the browser.
    answer = httpx.get(
        f"{live_server.url}/api/systems/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200
    assert [system["slug"] for system in answer.json()["results"]] == [fraud.slug]

    # A change made with it: the audit trail says which token, not only whose.
    approved = httpx.post(
        f"{live_server.url}/api/releases/{submitted.pk}/approvals/",
        json={"decision": "approve", "comment": "Gates and card reviewed by the CI job."},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert approved.status_code == 201, approved.text
    prefix = ApiToken.objects.get().prefix
    browser_page.goto("/audit/?action=release.approve")
    event = browser_page.locator("table.table-audit tbody tr").first
    expect(event).to_contain_text(f"Approve: {submitted.version} by {release_manager.username}")
    expect(event).to_contain_text(f"via API token {prefix}… release bot (CI)")
    screenshot(browser_page, "audit-trail-token.png")

    browser_page.goto("/api-tokens/")
    browser_page.reload()  # shown once: gone after a reload
    expect(browser_page.locator("#new-token")).to_have_count(0)
    assert secret not in browser_page.content()
    loads.clear()

    row = panel.locator("tbody tr").filter(has_text="release bot (CI)")
    expect(row).to_contain_text("Active")
    row.get_by_role("link", name="Revoke…").click()
    panel.get_by_role("button", name="Revoke token").click()
    expect(row).to_contain_text("Revoked")
    screenshot(browser_page, "api-token-revoked.png")
    assert loads == [], "creating and revoking update the panel in place"

    refused = httpx.get(
        f"{live_server.url}/api/systems/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401 and refused.json()["detail"]
    assert ApiToken.objects.get().revoked_by == release_manager

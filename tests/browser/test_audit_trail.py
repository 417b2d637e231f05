"""The audit trail, the refusals and the lists in a real browser: each object links to its
page, a header sorts, the export downloads the filtered events; a viewer is told the trail
is not theirs and sees no control they may not use."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from governance import services as governance

pytestmark = pytest.mark.browser


def test_the_owner_sorts_follows_and_exports_the_trail(  # type: ignore[no-untyped-def]
    page, screenshot, owner, incident, live_release
):
    trail = page(owner)
    trail.goto("/audit/?system=fraud")
    table = trail.locator("#audit-table")
    expect(table.get_by_role("link", name=incident.title).first).to_be_visible()
    trail.get_by_role("link", name="Actor").click()
    expect(trail.locator('th[aria-sort="ascending"]')).to_have_text("Actor▲")
    screenshot(trail, "audit-trail-sorted.png")
    with trail.expect_download() as download:
        table.get_by_role("link", name="as CSV").click()
    lines = download.value.path().read_text().splitlines()
    assert lines[0].startswith("occurred_at,system,seq,actor")
    assert len(lines) > 2
    table.get_by_role("link", name=incident.title).first.click()
    expect(trail).to_have_url(re.compile(re.escape(incident.get_absolute_url()) + "$"))


def test_a_viewer_is_offered_only_what_they_may_do(  # type: ignore[no-untyped-def]
    page, screenshot, viewer, fraud, incident
):
    visitor = page(viewer)
    visitor.goto("/")
    expect(visitor.get_by_role("link", name="Declare incident")).to_have_count(0)
    expect(visitor.get_by_role("link", name="Audit trail")).to_have_count(0)
    visitor.goto(f"/systems/{fraud.slug}/")
    expect(visitor.get_by_role("link", name="Alert tokens")).to_have_count(0)
    visitor.locator("#what-you-may-do summary").click()
    expect(visitor.locator("#what-you-may-do .may-no").first).to_be_visible()
    screenshot(visitor, "system-what-you-may-do.png")
    visitor.goto("/audit/")
    expect(visitor.locator(".empty-title")).to_have_text("No audit trail is yours to read.")
    screenshot(visitor, "audit-trail-not-yours.png")


def test_the_author_is_told_the_rule_that_refuses_them(  # type: ignore[no-untyped-def]
    page, screenshot, model_owner, owner, fraud, submitted, release_manager
):
    governance.grant_role(actor=owner, system=fraud, role="release_manager", user=model_owner)
    author = page(model_owner)
    response = author.request.post(
        f"/releases/{submitted.pk}/approvals/",
        form={"decision": "approve", "comment": "mine"},
        headers={"Referer": author.url, "X-CSRFToken": _csrf(author)},
    )
    assert response.status == 403
    author.set_content(response.text())
    expect(author.locator(".refusal-rule")).to_have_text(
        "The author of a release never approves it."
    )
    screenshot(author, "refusal-self-approval.png")


def test_the_environments_page_shows_the_policy_as_status(  # type: ignore[no-untyped-def]
    page, screenshot, viewer, fraud, production
):
    visitor = page(viewer)
    visitor.goto(f"/systems/{fraud.slug}/environments/")
    policy = visitor.locator("#gate-policy")
    expect(policy.locator("input")).to_have_count(0)
    screenshot(visitor, "environments-gate-policy.png")


def _csrf(browser_page) -> str:  # type: ignore[no-untyped-def]
    cookies = browser_page.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == "csrftoken")

"""Pages under the Content-Security-Policy in a real browser: what the policy would block
shows up as a problem (tests/browser/conftest.py), so loading these pages is the test."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


def test_the_api_docs_run_under_the_policy(page, owner):
    docs = page(owner)
    docs.goto("/api/docs/")

    expect(docs.locator(".swagger-ui .title")).to_contain_text("Failsafe API")


def test_the_admin_runs_under_the_policy(page):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    browser_page = page(admin)
    browser_page.goto("/admin/axes/accessattempt/")

    expect(
        browser_page.get_by_role("heading", name="Select access attempt to change")
    ).to_be_visible()


def test_a_locked_out_sign_in_shows_why(page, owner):
    login = page(None)
    login.goto("/login/")
    for _ in range(5):
        login.get_by_label("Username").fill(owner.username)
        login.get_by_label("Password").fill("wrong password")
        login.get_by_role("button", name="Sign in").click()
    login.get_by_label("Password").fill(PASSWORD)
    login.get_by_role("button", name="Sign in").click()

    expect(login.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    assert "/login/" in login.url

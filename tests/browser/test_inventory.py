"""The AI-system inventory in a real browser: sign in, register, find it, see it audited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from governance import services
from governance.models import AISystem, AuditEvent
from governance.roles import Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

NEW_SYSTEM = {
    "name": "Candidate CV ranking",
    "purpose": (
        "Ranks incoming job applications for recruiters in the EU hiring teams. "
        "A recruiter reviews every shortlist before anyone is contacted."
    ),
    "risk": "High risk",
}


def _seed_inventory(registrar, fraud, people) -> None:  # type: ignore[no-untyped-def]
    """A realistic inventory: systems of several risk categories, with people on them."""
    services.update_system(
        actor=registrar,
        system=fraud,
        name=fraud.name,
        slug=fraud.slug,
        intended_purpose=(
            "Scores card-not-present payments in real time and holds those above the risk "
            "threshold for review. Used by the payments platform in the EU and the UK."
        ),
        risk_category=fraud.risk_category,
    )
    support = services.create_system(
        actor=registrar,
        name="Customer support assistant",
        slug="support-assistant",
        intended_purpose=(
            "LLM assistant that drafts answers to customer tickets for human agents, with "
            "retrieval over the help centre. Customers are told they talk to an AI system."
        ),
        risk_category="limited",
    )
    ocr = services.create_system(
        actor=registrar,
        name="Invoice OCR",
        slug="invoice-ocr",
        intended_purpose="Extracts line items from supplier invoices for accounts payable.",
        risk_category="minimal",
    )
    for system in (support, ocr):
        for user, role in people:
            services.grant_role(actor=registrar, system=system, role=role, user=user)


def test_a_registrar_registers_a_system_and_finds_it_in_the_list_and_the_audit_trail(
    page, screenshot, registrar, fraud, oncall_lead, viewer
):
    _seed_inventory(registrar, fraud, [(oncall_lead, Role.ONCALL_LEAD), (viewer, Role.VIEWER)])
    browser_page = page(registrar)

    browser_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="AI systems"
    ).click()
    expect(browser_page).to_have_url(re.compile(r"/systems/$"))
    expect(browser_page.get_by_role("heading", level=1)).to_have_text("AI systems")
    rows = browser_page.locator("#system-table tbody tr")
    expect(rows).to_have_count(3)
    inline = "document.querySelectorAll('style, [style], script:not([src])').length"
    assert browser_page.evaluate(inline) == 0, "inline styles or scripts would break the CSP"
    screenshot(browser_page, "systems-list.png")

    browser_page.get_by_role("link", name="Register AI system").click()
    expect(browser_page.get_by_role("heading", level=1)).to_have_text("Register an AI system")
    browser_page.get_by_label("Name", exact=True).fill(NEW_SYSTEM["name"])
    browser_page.get_by_label("Intended purpose").fill(NEW_SYSTEM["purpose"])
    browser_page.get_by_label("EU AI Act risk category").select_option(label=NEW_SYSTEM["risk"])
    browser_page.get_by_role("button", name="Register system").click()

    expect(browser_page).to_have_url(re.compile(r"/systems/candidate-cv-ranking/$"))
    expect(browser_page.get_by_role("heading", level=1)).to_have_text(NEW_SYSTEM["name"])
    expect(browser_page.get_by_role("status")).to_contain_text(
        f"{NEW_SYSTEM['name']} is registered."
    )
    expect(browser_page.locator(".page-head .risk-high")).to_have_text("High risk")
    expect(browser_page.locator("#roles-panel")).to_contain_text("System owner")
    screenshot(browser_page, "system-detail.png")

    browser_page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="AI systems"
    ).click()
    expect(rows).to_have_count(4)
    new_row = rows.filter(has_text=NEW_SYSTEM["name"])
    expect(new_row).to_contain_text("High risk")
    expect(new_row).to_contain_text("System owner")
    browser_page.get_by_label("Risk category").select_option(label="High risk")
    expect(rows).to_have_count(2)
    expect(browser_page).to_have_url(re.compile(r"risk_category=high"))

    browser_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit trail"
    ).click()
    expect(browser_page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    created = browser_page.locator("#audit-table .table-audit > tbody > tr").filter(
        has_text=NEW_SYSTEM["name"]
    )
    created = created.filter(has_text="system.created")
    expect(created).to_have_count(1)
    created.get_by_text("Show recorded state").click()
    expect(created.locator(".kv tr").filter(has_text="risk_category")).to_contain_text("high")
    updated = browser_page.locator("#audit-table .table-audit > tbody > tr").filter(
        has_text="system.updated"
    )
    updated.get_by_text("Show change").click()
    expect(updated.locator(".kv tr.is-changed")).to_have_count(1)
    expect(updated.locator(".kv tr.is-changed")).to_contain_text("intended_purpose")
    screenshot(browser_page, "audit-trail.png")

    system = AISystem.objects.get(slug="candidate-cv-ranking")
    assert system.risk_category == "high"
    assert AuditEvent.objects.filter(system=system, action="system.created").count() == 1


def test_an_empty_name_is_shown_on_its_field_and_the_form_keeps_the_input(
    page, screenshot, registrar
):
    browser_page = page(registrar)
    browser_page.goto("/systems/new/")
    browser_page.get_by_label("Intended purpose").fill(NEW_SYSTEM["purpose"])
    browser_page.get_by_label("EU AI Act risk category").select_option(label="Limited risk")

    with browser_page.expect_response(lambda r: r.request.method == "POST") as answer:
        browser_page.get_by_role("button", name="Register system").click()

    assert answer.value.status == 400
    expect(browser_page).to_have_url(re.compile(r"/systems/new/$"))
    name_field = browser_page.locator(".field.has-error").filter(
        has=browser_page.locator("input[name=name]")
    )
    expect(name_field.get_by_role("alert")).to_have_text("This field is required.")
    expect(browser_page.locator(".field.has-error")).to_have_count(1)
    expect(browser_page.get_by_label("Intended purpose")).to_have_value(NEW_SYSTEM["purpose"])
    expect(browser_page.get_by_label("EU AI Act risk category")).to_have_value("limited")
    screenshot(browser_page, "system-form-errors.png")
    assert not AISystem.objects.exists()


def test_the_login_page_refuses_a_wrong_password_and_returns_to_the_page_asked_for(
    page, screenshot, registrar, fraud
):
    browser_page = page(None)
    browser_page.goto("/systems/fraud/")
    expect(browser_page).to_have_url(re.compile(r"/login/\?next=/systems/fraud/$"))
    expect(browser_page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(browser_page, "login.png")

    browser_page.get_by_label("Username").fill(registrar.username)
    browser_page.get_by_label("Password").fill("not the password")
    browser_page.get_by_role("button", name="Sign in").click()
    expect(browser_page.get_by_role("alert")).to_contain_text("do not match")
    screenshot(browser_page, "login-error.png")

    browser_page.get_by_label("Password").fill(PASSWORD)
    browser_page.get_by_role("button", name="Sign in").click()
    expect(browser_page).to_have_url(re.compile(r"/systems/fraud/$"))
    expect(browser_page.get_by_role("heading", level=1)).to_have_text(fraud.name)


def test_someone_without_a_role_sees_an_empty_inventory_that_says_what_to_do(
    page, screenshot, outsider
):
    browser_page = page(outsider)
    browser_page.goto("/systems/")
    expect(browser_page.locator("#system-table tbody tr")).to_have_count(0)
    expect(browser_page.locator("#system-table")).to_contain_text("No AI systems yet.")
    expect(browser_page.locator("#system-table")).to_contain_text("Ask a system owner")
    expect(browser_page.get_by_role("link", name="Register AI system")).to_have_count(0)
    screenshot(browser_page, "systems-empty.png")

"""Declaring in a real browser: choosing the system swaps in its environments (htmx),
production chosen; the incident opens in the environment picked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from governance import services as governance
from incidents.models import Incident
from releases.models import Environment

pytestmark = pytest.mark.browser


def test_the_lead_picks_the_system_then_its_environment(  # type: ignore[no-untyped-def]
    page, screenshot, oncall_lead, fraud, production, staging, other_system
):
    stranger = other_system.role_grants.first().user
    governance.grant_role(actor=stranger, system=other_system, role="oncall_lead", user=oncall_lead)
    live = Environment.objects.create(
        system=other_system, name="Live", slug="live", is_production=True
    )
    lead = page(oncall_lead)
    lead.goto("/incidents/declare/")
    environment = lead.get_by_label("Environment")
    lead.get_by_label("System").select_option(label=fraud.name)
    expect(environment).to_have_value(str(production.pk))
    expect(environment.locator("option")).to_have_count(3)  # none, production, staging
    lead.get_by_label("System").select_option(label=other_system.name)
    expect(environment).to_have_value(str(live.pk))
    expect(environment.locator("option")).to_have_count(2)
    lead.get_by_label("Title").fill("Every document rejected")
    screenshot(lead, "declare-form.png")
    lead.get_by_role("button", name="Declare and open the war room").click()
    expect(lead.locator(".flash")).to_contain_text("declared")
    assert Incident.objects.get().environment == live

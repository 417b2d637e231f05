"""Seen in a real browser: the compliance officer's evidence pages, and a rolled-back
release whose return needs approvals that cite the rollback."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidents import services as incidents
from releases import rollbacks
from tests.evidence.conftest import evidence_history  # noqa: F401  (the month of history)

pytestmark = pytest.mark.browser


def test_the_officer_reads_the_answers_and_the_coverage(  # type: ignore[no-untyped-def]
    page,
    screenshot,
    evidence_history,  # noqa: F811
):
    officer = page(evidence_history.people["compliance"])
    officer.goto("/systems/fraud/evidence/")
    expect(officer.locator("h1")).to_contain_text("Evidence")
    screenshot(officer, "evidence-hub.png")
    officer.goto(
        "/systems/fraud/evidence/questions/live/?environment=production&at=2026-10-15T12:00Z"
    )
    expect(officer.locator("main")).to_contain_text("was live in Production")
    screenshot(officer, "evidence-live.png")
    officer.goto("/systems/fraud/evidence/coverage/")
    expect(officer.locator("main")).to_contain_text("Art. 14")
    screenshot(officer, "evidence-coverage.png")


def test_a_rolled_back_release_shows_what_brings_it_back(  # type: ignore[no-untyped-def]
    page, screenshot, fraud, production, successor, oncall_lead, rollback_owner, release_manager
):
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x on card-present"
    )
    rollbacks.run_rollback(request_id=request.pk)
    manager = page(release_manager)
    manager.goto(successor.get_absolute_url())
    expect(manager.locator(".takedown")).to_contain_text("Rolled back")
    manager.get_by_label("Approve").check()
    manager.get_by_label("Comment").fill("The card-present feature bug is fixed upstream.")
    manager.get_by_role("button", name="Record decision").click()
    expect(manager.locator(".decisions")).to_contain_text(f"citing rollback {request.pk}")
    screenshot(manager, "release-return.png")

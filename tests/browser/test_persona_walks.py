"""Each persona's main job, walked in the browser from the home page and counted (clicks,
fields typed, page loads; tests/browser/walk.py). The model owner's release is counted in
test_release_flow.py. The bounds hold the counts where they are: a change that adds steps to
a person's main job fails here and has to say why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from governance.evidence.sign import generate_private_pem
from incidents import services as incidents
from releases.models import Approval, RollbackRequest, RollbackStatus
from releases.rollbacks.decision_links import decision_url
from tests.browser.walk import Walk

pytestmark = pytest.mark.browser


def test_a_release_manager_approves_a_release_in_review(  # type: ignore[no-untyped-def]
    page, screenshot, release_manager, submitted
):
    walk = Walk(page(release_manager))
    walk.start()
    nav = walk.page.get_by_role("navigation", name="Main")
    walk.click(nav.get_by_role("link", name="Approvals"))
    walk.click(walk.page.get_by_role("link", name="Review").first)
    walk.click(walk.page.locator("label.choice-approve"))
    walk.fill(walk.page.get_by_label("Comment"), "Gate evidence and plan reviewed.")
    walk.click(walk.page.get_by_role("button", name="Record decision"))
    expect(walk.page.get_by_role("status")).to_contain_text("approv")
    screenshot(walk.page, "walk-release-manager.png")
    assert Approval.objects.filter(release=submitted, approver=release_manager).exists()
    print("\n" + walk.summary("release manager approves"))
    assert walk.clicks <= 4 and walk.loads <= 3


def test_an_oncall_lead_rolls_back_from_the_home_page(  # type: ignore[no-untyped-def]
    page, screenshot, oncall_lead, fraud, production, successor, live_release
):
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    walk = Walk(page(oncall_lead))
    walk.start()
    walk.click(walk.page.get_by_role("link", name=re.compile(incident.title)).first)
    walk.click(walk.page.get_by_test_id("rollback-now"))
    confirm = walk.page.get_by_role("button", name=re.compile("^Confirm: roll back to"))
    walk.click(confirm)
    expect(walk.page.locator(".flash")).to_contain_text("requested")
    screenshot(walk.page, "walk-oncall-lead.png")
    assert RollbackRequest.objects.filter(incident_link__incident=incident).exists()
    print("\n" + walk.summary("on-call lead rolls back"))
    assert walk.clicks <= 3 and walk.loads <= 3


def test_a_rollback_owner_confirms_a_proposal_from_the_notice(  # type: ignore[no-untyped-def]
    page, rollback_owner, incident, earlier
):
    proposal, _ = incidents.roll_back_incident(
        actor=None, incident=incident, reason="The plan's trigger held: review_rate > 2.5.",
        propose=True,
        trigger={"metric": "review_rate", "comparison": ">", "threshold": "2.5",
                 "window_minutes": 15, "value": "3.1"},
    )  # fmt: skip
    walk = Walk(page(rollback_owner))
    walk.start()
    walk.page.goto(decision_url(proposal))  # the link in the notice: no click in Failsafe yet
    walk.click(walk.page.get_by_test_id("decision-confirm"))
    expect(walk.page.locator(".flash")).to_contain_text("Confirmed")
    assert RollbackRequest.objects.get(pk=proposal.pk).status != RollbackStatus.PROPOSED
    print("\n" + walk.summary("rollback owner confirms a proposal"))
    assert walk.clicks <= 1 and walk.loads <= 3


def test_a_compliance_officer_downloads_the_evidence_pack(  # type: ignore[no-untyped-def]
    page, screenshot, settings, compliance, fraud, live_release
):
    settings.EVIDENCE_SIGNING_KEY = generate_private_pem().decode()
    walk = Walk(page(compliance))
    walk.start()
    nav = walk.page.get_by_role("navigation", name="Main")
    walk.click(nav.get_by_role("link", name="AI systems"))
    walk.click(walk.page.get_by_role("link", name=fraud.name).first)
    walk.click(walk.page.get_by_role("link", name="Evidence pack"))
    screenshot(walk.page, "walk-compliance.png")
    with walk.page.expect_download() as download:
        walk.click(walk.page.get_by_role("button", name="Download evidence pack"))
    assert download.value.suggested_filename.endswith(".zip")
    print("\n" + walk.summary("compliance officer downloads the evidence pack"))
    assert walk.clicks <= 4 and walk.loads <= 5

"""ROLL BACK NOW in a real browser: the on-call lead presses it in the war room and, without
reloading, watches the request run through a real Celery worker and the target go live.
Then the button is not armed again: the panel says the plan's target is live, and going
past it is a separate action with a confirmation of its own."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidents import services as incidents
from releases import services
from releases.models import Deployment

pytestmark = pytest.mark.browser

BACKEND_SECONDS = 5  # the local backend's latency: long enough to watch the run


def test_the_oncall_lead_rolls_back_and_watches_it_verified_live(  # type: ignore[no-untyped-def]
    page, screenshot, celery_worker, owner, oncall_lead, responder, fraud, production,
    successor, live_release, earlier,
):  # fmt: skip
    services.update_environment(
        actor=owner, environment=production, name=production.name, is_production=True,
        backend_type="local", backend_config={"latency_ms": BACKEND_SECONDS * 1000},
    )  # fmt: skip
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    lead = page(oncall_lead)
    lead.goto(incident.get_absolute_url())
    panel = lead.locator("#incident-release")
    lead.get_by_test_id("rollback-now").click()
    expect(panel).to_contain_text(f"replacing {successor.version}")
    lead.get_by_role("button", name=f"Confirm: roll back to {live_release.version}").click()
    expect(lead.locator(".flash")).to_contain_text("requested")
    lead.evaluate("window.sameDocument = true")  # gone if the page ever reloads

    run = lead.locator(".rollback-run")
    expect(run).to_have_attribute("data-status", "running", timeout=15_000)
    screenshot(lead, "rollback-running.png")
    expect(run).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(panel).to_contain_text(f"now live: {live_release.version}")
    expect(lead.locator("#timeline-entries")).to_contain_text(
        f"Verified: {live_release.version} is live"
    )
    # Verified: the plan's target is live, and ROLL BACK NOW is not armed again.
    expect(panel.locator(".rollback-verified")).to_contain_text(
        f"Live: {live_release.version} — the plan's rollback target, put back by the rollback at"
    )
    expect(lead.get_by_test_id("rollback-now")).to_have_count(0)
    further = lead.get_by_test_id("rollback-further")
    expect(further).to_have_text(f"Roll back further: {live_release.version} → {earlier.version}")
    assert lead.evaluate("window.sameDocument") is True
    screenshot(lead, "rollback-verified.png")

    # A responder may not roll back: the same statement, no action.
    watcher = page(responder)
    watcher.goto(incident.get_absolute_url())
    expect(watcher.locator(".rollback-verified")).to_contain_text("the plan's rollback target")
    expect(watcher.get_by_test_id("rollback-further")).to_have_count(0)
    expect(watcher.get_by_test_id("rollback-now")).to_have_count(0)

    # The environments page offers the same, and only the same.
    environments = page(oncall_lead)
    environments.goto(f"/systems/{fraud.slug}/environments/")
    row = environments.locator("#environments tr", has_text=production.name)
    expect(row).to_contain_text(f"Live: {live_release.version} — put back by the rollback at")
    expect(row.get_by_text("ROLL BACK NOW")).to_have_count(0)
    row.get_by_text(f"Roll back further: {live_release.version} → {earlier.version}").click()
    expect(row.locator(".rollback-further-confirm")).to_contain_text(
        f"Puts {earlier.version} live in {production.name}, replacing {live_release.version}"
    )
    screenshot(environments, "environments-rollback-further.png")

    # Going further is its own action, with its own confirmation naming both releases.
    further.click()
    confirm = panel.locator(".rollback-further-confirm")
    expect(confirm).to_contain_text(
        f"Puts {earlier.version} live in {production.name}, replacing {live_release.version}"
    )
    confirm.get_by_label("Why go further").fill("Review rate still 3x on 2.0.0")
    screenshot(lead, "rollback-further-confirm.png")
    confirm.get_by_role("button", name=f"Confirm: roll back further to {earlier.version}").click()
    expect(lead.locator(".flash")).to_contain_text(f"Rolling back further to {earlier.version}")
    expect(run).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(panel.locator(".rollback-verified")).to_contain_text(
        f"Live: {earlier.version} — put back by the rollback at"
    )
    expect(panel).to_contain_text("Nothing earlier to roll back to")
    expect(lead.get_by_test_id("rollback-further")).to_have_count(0)
    screenshot(lead, "rollback-further-verified.png")

    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == earlier and live.via == "rollback"

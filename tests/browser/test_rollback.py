"""ROLL BACK NOW in a real browser: the on-call lead presses it in the war room and, without
reloading, watches the request run through a real Celery worker and the target go live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidents import services as incidents
from releases import services
from releases.models import Deployment

pytestmark = pytest.mark.browser

BACKEND_SECONDS = 5  # the local backend's latency: long enough to watch the run


def test_the_oncall_lead_rolls_back_and_watches_it_verified_live(  # type: ignore[no-untyped-def]
    page, screenshot, celery_worker, owner, oncall_lead, fraud, production, successor,
    live_release,
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
    expect(panel).to_contain_text(f"{live_release.version} is live again.")
    expect(lead.locator("#timeline-entries")).to_contain_text(
        f"Verified: {live_release.version} is live"
    )
    assert lead.evaluate("window.sameDocument") is True
    screenshot(lead, "rollback-verified.png")

    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == live_release and live.via == "rollback"

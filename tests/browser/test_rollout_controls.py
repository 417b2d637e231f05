"""A release manager rolls a release out from its page with a real worker applying the steps:
promotes, watches the step land without a reload, pauses, is refused a promotion while
paused, resumes, is refused a stage out of order, and aborts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

APPLIED_WITHIN_MS = 30_000  # a loaded machine: the worker, the poll every 2 s


def _promote(page: Page, stage: str, traffic: str) -> None:
    form = page.locator(".promote-form")
    form.get_by_label("Stage").select_option(stage)
    form.get_by_label("Traffic %").fill(traffic)
    form.get_by_role("button", name="Promote").click()


def _latest_step(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#rollout-live .rollout-steps .step").last


def test_a_release_manager_promotes_pauses_resumes_and_aborts(  # type: ignore[no-untyped-def]
    page, screenshot, celery_worker, approved, release_manager, production
):
    # The local backend answers after a moment, as a platform would: the step is seen pending.
    production.backend_config = {"latency_ms": 1500}
    production.save()
    manager = page(release_manager)
    manager.goto(approved.get_absolute_url())

    _promote(manager, "shadow", "5")
    expect(manager.locator(".flash")).to_contain_text("Shadow / guarded in Production requested")
    manager.evaluate("window.stillThisPage = true")  # gone if the page reloads
    step = _latest_step(manager)
    expect(step).to_contain_text("Shadow / guarded in Production · 5 %")
    expect(step).to_have_attribute("data-status", "applied", timeout=APPLIED_WITHIN_MS)
    assert manager.evaluate("window.stillThisPage === true"), "the page reloaded"
    expect(step.locator(".step-status")).to_have_text("Applied")
    screenshot(manager, "rollout-applied.png")

    environment = manager.locator(".rollout-env[data-environment='production']")
    environment.get_by_role("button", name="Pause").click()
    expect(manager.locator(".flash")).to_contain_text("Rollout paused in Production")
    expect(environment.locator(".chip-paused")).to_contain_text("Paused by")
    expect(_latest_step(manager)).to_have_attribute(
        "data-status", "applied", timeout=APPLIED_WITHIN_MS
    )

    _promote(manager, "segment_monitoring", "20")
    errors = manager.locator(".page-errors")
    expect(errors).to_contain_text("was paused by")
    expect(errors).to_contain_text("resume first")
    screenshot(manager, "rollout-paused-refused.png")

    manager.locator(".rollout-env[data-environment='production']").get_by_role(
        "button", name="Resume"
    ).click()
    expect(manager.locator(".flash")).to_contain_text("Rollout resumed in Production")
    environment = manager.locator(".rollout-env[data-environment='production']")
    expect(environment.locator(".chip-paused")).to_have_count(0)
    expect(_latest_step(manager)).to_have_attribute(
        "data-status", "applied", timeout=APPLIED_WITHIN_MS
    )

    # The stages go in order: general release before segment monitoring is refused, with
    # the way round it (a release manager may skip a stage with a reason) said.
    _promote(manager, "general_release", "100")
    form = manager.locator(".promote-form")
    expect(form).to_contain_text(
        "Segment monitoring comes before General release: promote to it first, "
        "or skip it with a reason."
    )
    screenshot(manager, "rollout-order-refused.png")
    environment = manager.locator(".rollout-env[data-environment='production']")

    environment.locator(".abort-drawer summary").click()
    environment.get_by_label("Why abort?").fill("False positives doubled in the shadow segment.")
    screenshot(manager, "rollout-abort-drawer.png")
    environment.get_by_role("button", name="Abort the rollout").click()
    expect(manager.locator(".flash")).to_contain_text("Rollout aborted")
    abort = _latest_step(manager)
    expect(abort).to_contain_text("Aborted in Production")
    expect(abort).to_contain_text("False positives doubled in the shadow segment.")
    expect(abort).to_have_attribute("data-status", "applied", timeout=APPLIED_WITHIN_MS)
    # The rollout is over there: no controls left for it.
    expect(manager.locator(".rollout-env[data-environment='production']")).to_have_count(0)
    screenshot(manager, "rollout-aborted.png")

"""A stage's analysis in a real browser: a release manager promotes 2.1.0 to shadow with an
analysis against the suite's real Prometheus, and the release page shows each measurement
as it is taken, without a reload, until the stage passes and the next one is requested."""

from __future__ import annotations

from unittest import mock

import pytest
from playwright.sync_api import expect

from releases import services
from releases.models import Environment, RolloutStep, StageAnalysis
from releases.services import analysis as analyses
from releases.services import rollouts
from tests.fixtures.releases import pass_every_gate, rollbacks_held

pytestmark = pytest.mark.browser

RATIO = "failsafe_test_error_ratio"


def test_the_release_page_shows_the_measurements_live(  # type: ignore[no-untyped-def]
    page, screenshot, prometheus, live_release, make_release, model_owner, release_manager,
    second_approver, production, rollback_owner,
):  # fmt: skip
    Environment.objects.filter(pk=production.pk).update(prometheus_url=prometheus.url)
    production.refresh_from_db()
    prometheus.exporter.set(RATIO, 0.012)
    prometheus.wait_for_value(RATIO, 0.012)
    release = make_release("2.1.0")
    pass_every_gate(release, model_owner)
    services.save_rollback_plan(
        actor=model_owner, release=release, environment=production, owners=[rollback_owner],
        mode="automatic", cooldown_minutes=30, advance_on_analysis=True,
        triggers=[{"metric": "error_ratio", "query": RATIO, "comparison": "gt",
                   "threshold": "0.05", "window_minutes": 5}],
    )  # fmt: skip
    services.submit_release(actor=model_owner, release=release)
    for approver in (release_manager, second_approver):
        services.record_approval(actor=approver, release=release, decision="approve", comment="ok")

    ravi = page(release_manager)
    ravi.goto(release.get_absolute_url())
    form = ravi.locator("form.promote-form")
    form.get_by_label("Stage").select_option("shadow")
    form.get_by_label("Traffic %").fill("5")
    form.locator("summary", has_text="Analysis").click()
    form.get_by_label("Analysis query (PromQL)").fill(RATIO)
    form.get_by_label("Success condition").fill("result < oops")
    with mock.patch.object(rollouts, "send_step"):  # this test applies the step itself
        form.get_by_role("button", name="Promote").click()
        expect(ravi.locator(".field-error").first).to_contain_text("cannot be read")
        form = ravi.locator("form.promote-form")
        form.get_by_label("Success condition").fill("result < 0.05")
        form.get_by_label("Every (s)").fill("1")
        form.get_by_label("Measurements").fill("3")
        form.get_by_label("Stage").select_option("shadow")
        form.get_by_role("button", name="Promote").click()
        expect(ravi.locator(".messages, .flash").first).to_contain_text("requested")
    step = RolloutStep.objects.get(release=release)
    services.apply_rollout_step(step_id=step.pk)
    analysis = StageAnalysis.objects.get(step=step)

    ravi.goto(release.get_absolute_url())
    panel = ravi.locator("#analysis")
    expect(panel).to_contain_text("Metric analysis")
    expect(panel).to_contain_text("result < 0.05")
    expect(panel).to_contain_text("0 / 3")
    with mock.patch.object(rollouts, "send_step"), rollbacks_held():
        analyses.take_measurement(analysis_id=analysis.pk)
        expect(panel).to_contain_text("1 / 3")  # the poll brought it: no reload
        analyses.take_measurement(analysis_id=analysis.pk)
        expect(panel).to_contain_text("2 / 3")
        screenshot(ravi, "analysis-running.png")
        analyses.take_measurement(analysis_id=analysis.pk)
    expect(panel.locator(f"#analysis-{analysis.pk} .analysis-status")).to_have_text("Passed")
    expect(panel).to_contain_text("3 of 3 measurements passed")
    assert RolloutStep.objects.filter(release=release, stage="segment_monitoring").exists()
    ravi.reload()
    expect(ravi.locator("#analysis")).to_contain_text("Segment monitoring")
    expect(ravi.locator("#analysis")).to_contain_text("error_ratio")
    screenshot(ravi, "analysis-passed.png")

"""A model owner's release, walked in the browser and counted: start from the release live
in production, change the threshold policy (the category is suggested), record the whole
gate in one form, write the plan with its trigger as fields, submit. The walk counts the
clicks (a click, a checkbox, a choice in a list) and the page loads it takes."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from unittest import mock

import pytest
from playwright.sync_api import Locator, Page, expect

from releases.models import Release, ReleaseStatus
from releases.services import rollouts
from tests.browser.walk import Walk

pytestmark = pytest.mark.browser

VERSION = "2.1.0"
POLICY_DIGEST = hashlib.sha256(b"threshold policy 2.1.0").hexdigest()
NUMERIC = [
    # criterion, measured, target, unit, evidence
    ("Benchmark above target", "0.9137", "0.9", "AUC", "https://mlflow.example.com/runs/8f2c"),
    ("No major regression in protected segments", "0.8", "2", "pp",
     "https://wiki.example.com/fraud/segments"),
    ("Latency within budget", "240", "300", "ms", "https://grafana.example.com/d/fraud-p95"),
]  # fmt: skip
ATTESTED = [
    ("Calibration reviewed", "https://wiki.example.com/fraud/calibration"),
    ("Error analysis of top failures completed", "https://wiki.example.com/fraud/errors"),
    ("Rollback path ready", "https://runbooks.example.com/fraud/rollback"),
    ("Owners and approvers recorded", "https://wiki.example.com/fraud/owners"),
]


def _row(page: Page, criterion: str) -> Locator:
    return page.locator(".gate-row").filter(
        has=page.locator(".gate-row-title", has_text=re.compile(rf"^{re.escape(criterion)}"))
    )


def test_a_model_owner_releases_with_gate_evidence_and_a_plan_in_few_clicks(
    page, screenshot, live_release, model_owner, rollback_owner, fraud, production
):
    author = page(model_owner)
    walk = Walk(author)
    walk.start()
    author.goto("/")
    walk.loads = 0  # counted from the home page, signed in

    # 1. Start from what is live: the stack and the card arrive prefilled.
    walk.click(author.get_by_role("navigation", name="Main").get_by_role("link", name="Releases"))
    walk.click(author.get_by_role("link", name="Register release"))
    walk.click(author.locator(".start-point").filter(has_text="live in Production"))
    expect(author.get_by_label("Model Version", exact=True)).to_have_value("model-2.0.0")
    expect(author.get_by_label("Why", exact=True)).not_to_have_value("")
    walk.fill(author.get_by_label("Version", exact=True), VERSION)
    walk.fill(author.get_by_label("Title"), "Review threshold raised to 0.85")
    walk.fill(
        author.get_by_label("What changed", exact=True),
        "The threshold policy raises the review threshold from 0.82 to 0.85.",
    )

    # 2. The threshold policy changes: its category is suggested, the author confirms it.
    walk.fill(author.get_by_label("Threshold policy Version", exact=True), "tp-2.1.0")
    walk.fill(author.get_by_label("Threshold policy sha256", exact=True), POLICY_DIGEST)
    author.get_by_label("Threshold policy sha256", exact=True).press("Tab")
    categories = author.locator("#change-categories")
    expect(categories.locator(".suggestion")).to_contain_text("Threshold / policy update")
    expect(categories.locator(".check-tile.is-suggested")).to_have_text(
        re.compile("Threshold / policy update")
    )
    screenshot(author, "release-flow-start-from-live.png")
    walk.check(author.get_by_label("Threshold / policy update"))
    walk.click(author.get_by_role("button", name="Register draft"))
    expect(author.get_by_role("status")).to_contain_text(f"Release {VERSION} is registered")
    release = Release.objects.get(system=fraud, version=VERSION)
    assert release.based_on == live_release
    diff = author.locator("#release-diff")
    expect(diff.locator(".table-diff tr.is-changed")).to_have_count(1)
    expect(diff.locator(".table-diff tr.is-changed th")).to_contain_text("Threshold policy")
    expect(diff.locator(".review-flags .flag")).to_have_text(["Threshold / policy update"])

    # 3. The whole gate in one form, numbers as typed.
    gate = author.locator("#gate")
    walk.click(gate.locator("summary", has_text="Record gate evidence"))
    for criterion, measured, target, unit, evidence in NUMERIC:
        row = _row(author, criterion)
        walk.fill(row.get_by_label("Measured"), measured)
        walk.fill(row.get_by_label("Target"), target)
        walk.fill(row.get_by_label("Unit"), unit)
        walk.fill(row.get_by_label("Evidence link"), evidence)
    for criterion, evidence in ATTESTED:
        row = _row(author, criterion)
        walk.choose(row.get_by_label("Attestation"), label="Met")
        walk.fill(row.get_by_label("Evidence link"), evidence)
    screenshot(author, "release-flow-gate-form.png")
    walk.click(gate.get_by_role("button", name="Record gate evidence"))
    expect(author.get_by_role("status")).to_contain_text("7 gate checks recorded: 7 passed")
    expect(author).to_have_url(re.compile(r"#gate$"))
    expect(author.locator("#gate .gate-pill")).to_have_text("All required criteria pass")
    benchmark = author.locator(".table-gate tbody tr").filter(has_text="Benchmark above target")
    expect(benchmark).to_contain_text("0.9137 AUC ≥ 0.9 AUC")

    # 4. The plan: production and the only rollback owner preselected; the trigger as fields.
    plan = author.locator("#plan")
    walk.click(plan.get_by_text("Write the plan"))
    expect(plan.get_by_label("Environment")).to_have_value(str(production.pk))
    # The target: what is live there (the default) or 2.0.0 by name; nothing else ran there.
    expect(plan.get_by_label("Target release").locator("option")).to_have_count(2)
    walk.choose(plan.get_by_label("Mode"), label="Auto-propose")
    first = plan.locator("[data-trigger-row]").first
    walk.fill(first.get_by_label("Metric"), "p95_latency_ms")
    walk.fill(first.get_by_label("Threshold"), "300")
    expect(first.locator("[data-trigger-preview]")).to_have_text("p95_latency_ms > 300 for 5 min")
    screenshot(author, "release-flow-plan-form.png")
    walk.click(plan.get_by_role("button", name="Save plan"))
    expect(author.get_by_role("status")).to_contain_text("Rollback plan saved.")
    expect(plan.locator(".trigger")).to_have_text(["p95_latency_ms > 300 for 5 min"])
    expect(author.locator(".callout")).to_have_count(0)

    # 5. Submit.
    walk.click(author.get_by_role("button", name="Submit for review"))
    expect(author.get_by_role("status")).to_contain_text("Submitted for review.")
    screenshot(author, "release-flow-submitted.png")

    release.refresh_from_db()
    assert release.status == ReleaseStatus.IN_REVIEW
    assert release.change_categories == ["threshold_policy_update"]
    assert release.rollback_plan.target_release == live_release
    assert release.gate_checks.get(criterion="benchmark").measured_value == Decimal("0.9137")
    print(
        f"\nrelease flow: {walk.clicks} clicks, {walk.loads} page loads, "
        f"{walk.typed} fields typed: {walk.urls}"
    )
    # Before: about 45 clicks and 12 page loads for the same release.
    assert walk.clicks <= 20 and walk.loads <= 7


def test_the_rollout_form_moves_on_and_warns_of_a_release_mid_rollout(
    page, screenshot, approved, release_manager, second_approver, production, make_release,
    rollback_owner, model_owner,
):  # fmt: skip
    from tests.factories.releases import ApprovedReleaseFactory

    # 2.5.0 is already at shadow in production when 2.0.0 is promoted there.
    earlier = ApprovedReleaseFactory(
        system=production.system, actor=model_owner, version="2.5.0", environment=production,
        rollback_owners=[rollback_owner], manual_plan=True,
        approvers=[release_manager, second_approver],
    )  # fmt: skip
    with mock.patch.object(rollouts, "send_step"):
        rollouts.promote_release(
            actor=release_manager, release=earlier, environment=production, stage="shadow",
            traffic_percent=10,
        )  # fmt: skip
        manager = page(release_manager)
        manager.goto(f"/releases/{approved.pk}/")
        form = manager.locator(".promote-form")
        expect(form.locator(".notice-in-flight")).to_contain_text(
            "2.5.0 is mid-rollout in Production: shadow / guarded, 10 %"
        )
        expect(form.get_by_label("Stage")).to_have_value("offline_validation")
        form.get_by_role("button", name="Promote").click()
        expect(form.locator(".field-error")).to_contain_text("2.5.0 is mid-rollout in Production")
        assert not approved.rollout_steps.exists()

        form = manager.locator(".promote-form")
        form.get_by_label("Promote anyway").check()
        form.get_by_role("button", name="Promote").click()
        expect(manager.get_by_role("status")).to_contain_text("Offline validation in Production")
        # The form now offers the stage after it, in the same environment.
        form = manager.locator(".promote-form")
        expect(form.get_by_label("Stage")).to_have_value("internal_testing")
        expect(form.get_by_label("Environment", exact=True)).to_have_value(str(production.pk))
        manager.locator("#rollout").scroll_into_view_if_needed()
        screenshot(manager, "release-flow-rollout.png")

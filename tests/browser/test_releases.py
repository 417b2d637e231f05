"""The release flow in a real browser: register a stack, record the gate, write the rollback
plan, submit, and two release managers approve from their queue; the author never can."""

from __future__ import annotations

import hashlib
import re

import pytest
from playwright.sync_api import Page, expect

from governance import services as governance
from governance.roles import Role
from releases import services
from releases.models import Release, ReleaseStatus
from tests.factories import (
    ApprovedReleaseFactory,
    LiveDeploymentFactory,
    SubmittedReleaseFactory,
)
from tests.fixtures.releases import CARD, stack

pytestmark = pytest.mark.browser

VERSION = "2.1.0"
INLINE = "document.querySelectorAll('style, [style], script:not([src])').length"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


LIVE_STACK = {c["kind"]: c for c in stack("2.0.0")}
# What the model owner types: (row label, version, URI, digest). The SDK is unchanged from
# the live release; the dataset keeps its version but not its content (the diff must say so).
NEW_STACK = [
    ("Model", "model-2.1.0", "s3://models/fraud/model/2.1.0", sha256("model 2.1.0")),
    ("Fusion / ensemble", "fusion-2.1.0", "s3://models/fraud/fusion/2.1.0", sha256("fusion")),
    ("Threshold policy", "threshold_policy-2.1.0", "git://policies/fraud@7c1e2f0", sha256("tp")),
    (
        "SDK",
        LIVE_STACK["sdk"]["version"],
        LIVE_STACK["sdk"]["uri"],
        LIVE_STACK["sdk"]["digest"],
    ),
    ("Dataset", LIVE_STACK["dataset"]["version"], LIVE_STACK["dataset"]["uri"], sha256("q3")),
    ("Evaluation report", "evaluation-2.1.0", "s3://reports/fraud/2.1.0.html", sha256("eval")),
]
NEW_CARD = {
    "What changed": "Model retrained on Q3 payments with merchant-velocity features; the "
    "ensemble now weights the device score; review threshold raised from 0.82 to 0.85.",
    "Why": "Card-testing attacks in small amounts rose 40 % since July and slip under the "
    "current model (recall on the attack cohort 0.61).",
    "Data used": "Payments 2026-07-01..2026-09-30, 44M rows; labels from chargebacks with a "
    "60-day maturity window. Holdout: the first two weeks of October.",
    "Channels tested": "Web checkout and the mobile app (EU and UK); not yet the POS terminals.",
    "Expected benefits": "Recall +3.1 points at the same review rate; about 2,400 fewer "
    "fraudulent payments a month.",
    "Known risks": "More false positives for first-time buyers on mobile; watched as a segment.",
    "Rollback trigger": "Review rate above 2.5 % for 15 minutes, or p95 latency above 300 ms.",
}
NUMERIC_CHECKS = [
    # criterion, comparison, measured, target, unit, evidence
    ("Latency within budget", "≤", "240", "300", "ms", "https://grafana.example.com/d/fraud-p95"),
    ("Benchmark above target", "≥", "0.947", "0.93", "", "https://mlflow.example.com/runs/8f2c"),
    ("No major regression in protected segments", "≤", "0.8", "2", "pp",
     "https://wiki.example.com/fraud/2.1.0/segments"),
]  # fmt: skip
ATTESTED_CHECKS = [
    ("Calibration reviewed", "https://wiki.example.com/fraud/2.1.0/calibration"),
    ("Error analysis of top failures completed", "https://wiki.example.com/fraud/2.1.0/errors"),
    ("Rollback path ready", "https://runbooks.example.com/fraud/rollback"),
    ("Owners and approvers recorded", "https://wiki.example.com/fraud/owners"),
]


def _name(user, first: str, last: str):  # type: ignore[no-untyped-def]
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


def _ship(version: str, author, approvers, environment, rollback_owner, **card):  # type: ignore[no-untyped-def]
    """A release through the services: gate, plan (manual, on the review rate), submission
    and, if `approvers` are given, their approvals (not yet live)."""
    state = ApprovedReleaseFactory if approvers else SubmittedReleaseFactory
    extra = {"approvers": approvers, "comment": "Evidence reviewed."} if approvers else {}
    return state(
        system=environment.system, actor=author, version=version, title=card.pop("title"),
        card={**CARD, **card}, change_categories=["new_architecture"], environment=environment,
        rollback_owners=[rollback_owner], plan_mode="manual", **extra,
    )  # fmt: skip


def _seed(registrar, fraud, production, mona, ravi, rita, rob) -> None:  # type: ignore[no-untyped-def]
    """History worth comparing against: 1.9.0 superseded by 2.0.0, live in Production; a
    rejected attempt; and, on another system, a release of mona's waiting in review."""
    old = _ship("1.9.0", mona, [ravi, rita], production, rob, title="Spring retrain")
    LiveDeploymentFactory(release=old, actor=ravi, environment=production)
    live = _ship("2.0.0", mona, [ravi, rita], production, rob, title="Gradient-boosted model")
    LiveDeploymentFactory(release=live, actor=ravi, environment=production)
    rejected = SubmittedReleaseFactory(
        system=fraud, actor=mona, version="2.0.1", title="Lower review threshold",
        change_categories=["threshold_policy_update"], environment=production,
        rollback_owners=[rob], manual_plan=True,
    )  # fmt: skip
    services.record_approval(
        actor=ravi, release=rejected, decision="reject",
        comment="Review rate would double; the ops team cannot absorb it.",
    )  # fmt: skip

    support = governance.create_system(
        actor=registrar, name="Customer support assistant", slug="support-assistant",
        intended_purpose="Drafts answers to customer tickets for human agents.",
        risk_category="limited",
    )  # fmt: skip
    for user, role in ((mona, Role.MODEL_OWNER), (ravi, Role.RELEASE_MANAGER),
                       (rob, Role.ROLLBACK_OWNER)):  # fmt: skip
        governance.grant_role(actor=registrar, system=support, role=role, user=user)
    support_production = services.create_environment(
        actor=registrar, system=support, name="Production", is_production=True
    )
    _ship("0.9.0", mona, [], support_production, rob, title="Retrieval over the new help centre")


def _gate_row(page: Page, criterion: str):  # type: ignore[no-untyped-def]
    title = page.locator(".gate-row-title", has_text=re.compile(rf"^{re.escape(criterion)}"))
    return page.locator(".gate-row").filter(has=title)


def _record_gate(page: Page, numeric, attested) -> None:  # type: ignore[no-untyped-def]
    """The gate form, its rows for these criteria filled, submitted once."""
    gate = page.locator("#gate")
    gate.locator("summary", has_text="Record gate evidence").click()
    for criterion, comparison, measured, target, unit, evidence in numeric:
        row = _gate_row(page, criterion)
        row.get_by_label("Comparison").select_option(label=comparison)
        row.get_by_label("Measured").fill(measured)
        row.get_by_label("Target").fill(target)
        row.get_by_label("Unit").fill(unit)
        row.get_by_label("Evidence link").fill(evidence)
    for criterion, evidence in attested:
        row = _gate_row(page, criterion)
        row.get_by_label("Attestation").select_option(label="Met")
        row.get_by_label("Evidence link").fill(evidence)
    gate.get_by_role("button", name="Record gate evidence").click()
    count = len(numeric) + len(attested)
    expect(page.get_by_role("status")).to_contain_text(
        f"{count} gate check{'s' if count > 1 else ''} recorded: {count} passed"
    )


def _fill_release_form(page: Page, model_digest: str) -> None:
    page.get_by_label("System").select_option(label="Card fraud screening")
    page.get_by_label("Version", exact=True).fill(VERSION)
    page.get_by_label("Title").fill("Q3 retrain with merchant velocity")
    page.get_by_label("New fusion logic").check()
    page.get_by_label("Threshold / policy update").check()
    for label, version, uri, digest in NEW_STACK:
        page.get_by_label(f"{label} Version", exact=True).fill(version)
        page.get_by_label(f"{label} URI", exact=True).fill(uri)
        page.get_by_label(f"{label} sha256", exact=True).fill(
            model_digest if label == "Model" else digest
        )
    for label, text in NEW_CARD.items():
        page.get_by_label(label, exact=True).fill(text)


def _approve(page: Page, comment: str, screenshot=None) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Waiting for your decision")
    row = page.locator(".table-queue tbody tr").filter(has_text=VERSION)
    expect(row).to_contain_text("New fusion logic")
    expect(row.locator(".gate-pill")).to_have_text("7/7")
    row.get_by_role("link", name=re.compile(VERSION)).click()
    approvals = page.locator("#approvals")
    approvals.get_by_role("radio", name=re.compile(r"^Approve")).check()
    approvals.get_by_label("Comment").fill(comment)
    if screenshot is not None:
        screenshot(page, "release-review.png")
    approvals.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: approve.")


def test_a_release_is_registered_gated_planned_submitted_and_approved_by_two_managers(
    page, screenshot, registrar, fraud, production, model_owner, release_manager,
    second_approver, rollback_owner,
):  # fmt: skip
    mona = _name(model_owner, "Mona", "Keller")
    ravi = _name(release_manager, "Ravi", "Shah")
    rita = _name(second_approver, "Rita", "Okafor")
    rob = _name(rollback_owner, "Rob", "Lindqvist")
    _name(registrar, "Olivia", "Brandt")
    _seed(registrar, fraud, production, mona, ravi, rita, rob)
    # Mona may also approve releases here: separation of duties, not a missing role, must
    # keep her from deciding on her own release.
    governance.grant_role(actor=registrar, system=fraud, role=Role.RELEASE_MANAGER, user=mona)

    # The model owner registers the stack; a sha1 pasted for the model is refused in place.
    author = page(mona)
    author.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    author.get_by_role("link", name="Register release").click()
    expect(author.get_by_role("heading", level=1)).to_have_text("Register a release")
    _fill_release_form(author, model_digest=hashlib.sha1(b"model").hexdigest())
    # The registration itself, not htmx asking for the suggested categories as the stack changes.
    registering = lambda r: r.request.method == "POST" and "hx-request" not in r.request.headers  # noqa: E731
    with author.expect_response(registering) as answer:
        author.get_by_role("button", name="Register draft").click()
    assert answer.value.status == 400
    expect(author.locator(".stack-errors")).to_contain_text(
        "Model: the digest must be a sha256 in hex (64 characters)."
    )
    expect(author.locator(".table-stack-form tr.is-invalid")).to_have_count(1)
    expect(author.locator(".table-stack-form tr.is-invalid th")).to_have_text("Model")
    expect(author.get_by_label("Why", exact=True)).to_have_value(NEW_CARD["Why"])
    expect(author.get_by_label("New fusion logic")).to_be_checked()
    screenshot(author, "release-form-errors.png")
    assert not Release.objects.filter(version=VERSION).exists()

    author.get_by_label("Model sha256", exact=True).fill("sha256:" + NEW_STACK[0][3])
    author.get_by_role("button", name="Register draft").click()
    expect(author.get_by_role("status")).to_contain_text(f"Release {VERSION} is registered")
    release = Release.objects.get(system=fraud, version=VERSION)
    expect(author).to_have_url(re.compile(rf"/releases/{release.pk}/$"))
    callout = author.locator(".callout")
    expect(callout).to_contain_text("Before this release can be submitted")
    expect(callout.locator("li")).to_have_count(8)  # seven criteria and the rollback plan
    expect(author.get_by_role("button", name="Submit for review")).to_be_disabled()
    diff = author.locator("#release-diff")
    expect(diff.locator(".table-diff tr.is-changed")).to_have_count(5)
    expect(diff.locator(".table-diff tr.is-changed").filter(has_text="Dataset")).to_contain_text(
        "content changed, same version"
    )
    expect(diff.locator(".review-flags .flag")).to_have_text(
        ["New fusion logic", "Threshold / policy update"]
    )
    assert author.evaluate(INLINE) == 0, "inline styles or scripts would break the CSP"

    # The gate: measured checks are computed, the others attested; each links its evidence.
    _record_gate(author, NUMERIC_CHECKS[:1], [])
    latency = author.locator(".table-gate tbody tr").filter(has_text="Latency within budget")
    expect(latency.locator(".result-pass")).to_have_text("Pass")
    expect(latency).to_contain_text("240 ms ≤ 300 ms")
    expect(latency.get_by_role("link")).to_have_attribute("href", NUMERIC_CHECKS[0][5])
    expect(callout.locator("li")).to_have_count(7)
    # The draft as its author sees it, with both forms open: what remains, and where to do it.
    author.locator("#gate").locator("summary", has_text="Record gate evidence").click()
    author.locator("#plan").get_by_text("Write the plan").click()
    screenshot(author, "release-draft.png")
    author.reload()
    _record_gate(author, NUMERIC_CHECKS[1:], ATTESTED_CHECKS)
    expect(author.locator("#gate .gate-pill")).to_have_text("All required criteria pass")
    expect(callout.locator("li")).to_have_count(1)
    expect(callout).to_contain_text("There is no rollback plan.")

    # The rollback plan: back to the release live in production, owned by Rob.
    plan = author.locator("#plan")
    plan.get_by_text("Write the plan").click()
    plan.get_by_label("Environment").select_option(label="Production")
    plan.get_by_label("Rob Lindqvist (rob)").check()
    plan.get_by_label("Mode").select_option(label="Auto-propose")
    plan.get_by_label("Cooldown minutes").fill("30")
    rows = plan.locator("[data-trigger-row]")
    for n, (metric, threshold, window) in enumerate(
        [("p95_latency_ms", "300", "5"), ("review_rate", "0.025", "15")]
    ):
        rows.nth(n).get_by_label("Metric").fill(metric)
        rows.nth(n).get_by_label("Threshold").fill(threshold)
        rows.nth(n).get_by_label("For (min)").fill(window)
    expect(rows.nth(1).locator("[data-trigger-preview]")).to_have_text(
        "review_rate > 0.025 for 15 min"
    )
    plan.get_by_role("button", name="Save plan").click()
    expect(author.get_by_role("status")).to_contain_text("Rollback plan saved.")
    expect(callout).to_have_count(0)
    expect(plan.locator(".facts-stacked")).to_contain_text("2.0.0")
    expect(plan.locator(".trigger")).to_have_text(
        ["p95_latency_ms > 300 for 5 min", "review_rate > 0.025 for 15 min"]
    )

    author.get_by_role("button", name="Submit for review").click()
    expect(author.get_by_role("status")).to_contain_text("Submitted for review.")
    expect(author.locator(".page-head .status")).to_have_text("In review")
    # The author holds the approver role and still gets no decision form: only the reason.
    expect(author.get_by_role("button", name="Record decision")).to_have_count(0)
    expect(author.locator("#approvals .notice")).to_have_text(
        "The author of a release never approves it."
    )
    author.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(author.locator(".empty")).to_contain_text("Nothing waits for you.")

    # Release manager 1 finds it in the queue and approves: one of two.
    first = page(ravi)
    first.goto("/approvals/")
    expect(first.locator(".table-queue tbody tr")).to_have_count(2)
    screenshot(first, "approvals-queue.png")
    _approve(
        first,
        "Segments and latency reviewed; the threshold change is within appetite.",
        screenshot=screenshot,
    )
    expect(first.locator(".page-head .status")).to_have_text("In review")
    expect(first.locator("#approvals .count-pill")).to_have_text("1 of 2")
    expect(first.get_by_role("button", name="Record decision")).to_have_count(0)

    # Release manager 2 completes the quorum.
    second = page(rita)
    _approve(second, "Calibration plots and the rollback runbook checked. Approved.")
    expect(second.locator(".page-head .status")).to_have_text("Approved")
    expect(second.locator("#approvals .count-pill")).to_have_text("2 of 2")
    expect(second.locator("#approvals .decision-approve")).to_have_count(2)
    second.reload()
    expect(second.locator(".release-summary")).to_contain_text("All 7 pass")
    expect(second.get_by_role("button", name="Promote")).to_be_visible()
    assert second.evaluate(INLINE) == 0, "inline styles or scripts would break the CSP"
    screenshot(second, "release-page.png")

    # Ravi approves on both systems, so his list holds all five releases.
    first.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    rows = first.locator("#release-table tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text=VERSION).locator(".status")).to_have_text("Approved")
    expect(rows.filter(has_text="2.0.0").locator(".status")).to_have_text("Live")
    expect(rows.filter(has_text="2.0.0")).to_contain_text("Production")
    expect(rows.filter(has_text="1.9.0").locator(".status")).to_have_text("Superseded")
    screenshot(first, "releases-list.png")

    release.refresh_from_db()
    assert release.status == ReleaseStatus.APPROVED
    assert sorted(a.approver.username for a in release.approvals.all()) == ["ravi", "rita"]
    back_to = release.rollback_plan.target_release
    assert back_to is not None and back_to.version == "2.0.0"
    assert release.gate_checks.count() == 7
    assert not release.approvals.filter(approver=mona).exists()

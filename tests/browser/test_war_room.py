"""An incident run in a real browser: the on-call lead declares, staffs, contains, notes and
moves it through every stage to the published post-mortem, while a responder in a second
browser watches the timeline update without reloading."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from governance.people import person_label
from incidents.models import Incident, Stage

pytestmark = pytest.mark.browser

NOTE = "Fallback model takes 100 % of traffic; review rate back under 1 % within 4 minutes."
LIVE_TIMEOUT_MS = 15_000  # the war room polls every 3 s


def full_name(user) -> str:  # type: ignore[no-untyped-def]
    return user.get_full_name() or user.get_username()


def declare(lead: Page, fraud, production) -> Incident:  # type: ignore[no-untyped-def]
    lead.goto("/incidents/")
    lead.get_by_role("link", name="Declare incident").click()
    lead.get_by_label("System").select_option(label=fraud.name)
    lead.get_by_label("Environment").select_option(str(production.pk))
    lead.get_by_label("Title").fill("Review rate tripled after the 2.0.0 rollout")
    lead.get_by_label("Severity").select_option("sev1")
    lead.get_by_label("Category").select_option("drift")
    lead.get_by_label("Summary").fill("Card-not-present payments flagged three times as often.")
    lead.get_by_role("button", name="Declare and open the war room").click()
    expect(lead.locator("#incident-status")).to_contain_text("Detected")
    return Incident.objects.get()


def move_to(lead: Page, label: str) -> None:
    lead.get_by_role("button", name=f"Move to {label}").click()
    expect(lead.locator(".stage-step.is-current")).to_contain_text(label)


def test_an_oncall_lead_runs_an_incident_while_a_responder_watches_live(  # type: ignore[no-untyped-def]
    page, screenshot, fraud, production, live_release, oncall_lead, responder, release_manager
):
    lead = page(oncall_lead)
    incident = declare(lead, fraud, production)
    expect(lead.locator("#incident-release")).to_contain_text(live_release.version)

    watcher = page(responder)
    watcher.goto(incident.get_absolute_url())
    expect(watcher.get_by_role("button", name="Move to Containment")).to_have_count(0)
    watcher.evaluate("window.sameDocument = true")  # gone if the page ever reloads

    # Staff the incident.
    assign = lead.locator(".assign-form")
    assign.get_by_label("Role").select_option("scribe")
    assign.get_by_label("Person").select_option(label=full_name(responder))
    assign.get_by_role("button", name="Assign").click()
    expect(lead.locator("#incident-roles")).to_contain_text(full_name(responder))
    assign = lead.locator(".assign-form")
    assign.get_by_label("Role").select_option("ml_lead")
    assign.get_by_label("Person").select_option(label=full_name(release_manager))
    assign.get_by_role("button", name="Assign").click()
    expect(lead.locator("#incident-roles")).to_contain_text(full_name(release_manager))

    # Contain, then write down what was seen.
    move_to(lead, "Containment")
    containment = lead.locator(".containment-form")
    containment.get_by_label("Action").select_option("route_fallback")
    containment.get_by_label("Feature, rule, endpoint or fallback model").fill("fraud-model-1.9")
    containment.get_by_role("button", name="Request containment").click()
    lead.locator("#incident-containment").get_by_role("button", name="Mark done").click()
    expect(lead.locator("#incident-containment")).to_contain_text("Done")
    lead.get_by_label("Add to the timeline").fill(NOTE)
    lead.get_by_role("button", name="Post", exact=True).click()
    expect(lead.locator("#timeline-entries")).to_contain_text(NOTE)

    # The responder's page shows the note, the stage and the containment without a reload.
    expect(watcher.locator("#timeline-entries")).to_contain_text(NOTE, timeout=LIVE_TIMEOUT_MS)
    expect(watcher.locator(".stage-step.is-current")).to_contain_text("Containment")
    expect(watcher.locator("#incident-containment")).to_contain_text("fraud-model-1.9")
    assert watcher.evaluate("window.sameDocument") is True
    screenshot(watcher, "war-room-responder.png")

    for label in ("Rollback", "Recovery", "Post-incident review"):
        move_to(lead, label)
    screenshot(lead, "war-room.png")

    # The blameless post-mortem, with an owned action item, closes the incident.
    lead.get_by_role("link", name="Write and publish the post-mortem").click()
    write_postmortem(lead, person_label(release_manager), screenshot)
    incident.refresh_from_db()
    assert incident.stage == Stage.CLOSED
    lead.goto(incident.get_absolute_url())
    expect(lead.locator(".stage-step.is-current")).to_contain_text("Closed")

    lead.goto("/incidents/dashboard/")
    expect(lead.locator("svg").first).to_be_visible()
    screenshot(lead, "incidents-dashboard.png")


def write_postmortem(lead: Page, owner: str, screenshot) -> None:  # type: ignore[no-untyped-def]
    lead.get_by_role("textbox", name="What happened").fill(
        "The 2.0.0 threshold file raised the review cut-off for card-not-present payments; "
        "traffic went to the fallback model, then 1.9.0 was restored."
    )
    lead.get_by_role("textbox", name="Who or what was affected").fill(
        "EU web checkout for 38 minutes: about 4,100 payments sent to manual review."
    )
    lead.get_by_role("textbox", name="In the model").fill(
        "Threshold policy 2.0 keyed on the wrong score."
    )
    lead.get_by_role("textbox", name="Detection gaps").fill(
        "The review-rate alert fired on the aggregate only."
    )
    lead.get_by_role("button", name="Save draft").click()
    expect(lead.locator(".flash")).to_be_visible()

    add = lead.locator(".pm-add-form")
    add.get_by_label("Action item").fill("Alert on the review rate per channel")
    add.get_by_label("Owner").select_option(label=owner)
    add.get_by_label("Due").fill("2026-12-18")
    add.get_by_role("button", name="Add").click()
    expect(lead.locator("#action-items")).to_contain_text("Alert on the review rate per channel")
    expect(lead.locator("#publish-panel")).to_contain_text("Ready")
    screenshot(lead, "postmortem.png")
    lead.get_by_role("button", name="Publish and close").click()
    expect(lead.locator("#publish-panel")).to_contain_text("Published")

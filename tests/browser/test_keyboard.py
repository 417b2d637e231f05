"""The war room from the keyboard: the skip link is the first Tab stop and lands in the page's
content, ROLL BACK NOW comes a few stops later, and every control shows where the focus is."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from incidents import services as incidents
from incidents.models import Incident

pytestmark = pytest.mark.browser

MAX_STOPS_TO_ROLL_BACK = 6  # the skip link, the breadcrumbs, the page's and the stage's action
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), id: el.id, testid: el.dataset.testid || "",
    text: (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 60),
    outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
  };
}"""


def open_war_room(lead, fraud, production) -> Incident:  # type: ignore[no-untyped-def]
    return incidents.declare_incident(
        actor=lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip


def focused(page: Page) -> dict:
    return page.evaluate(FOCUSED)


def test_the_skip_link_is_the_first_stop_and_lands_in_the_content(page, screenshot, owner):  # type: ignore[no-untyped-def]
    home = page(owner)
    home.goto("/")
    skip = home.get_by_role("link", name="Skip to content")
    box = skip.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 0  # out of sight until focused

    home.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0  # shown while focused
    screenshot(home, "skip-link-focused.png")
    home.keyboard.press("Enter")
    assert focused(home)["id"] == "main"
    home.keyboard.press("Tab")  # the next stop is inside the content, past the navigation
    assert home.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_roll_back_now_is_a_few_tab_stops_from_the_top(  # type: ignore[no-untyped-def]
    page, oncall_lead, fraud, production, successor
):
    incident = open_war_room(oncall_lead, fraud, production)
    lead = page(oncall_lead)
    lead.goto(incident.get_absolute_url())

    lead.keyboard.press("Tab")
    expect(lead.get_by_role("link", name="Skip to content")).to_be_focused()
    lead.keyboard.press("Enter")
    stops = [focused(lead)]
    for _ in range(MAX_STOPS_TO_ROLL_BACK - 1):
        lead.keyboard.press("Tab")
        stops.append(focused(lead))
        if stops[-1]["testid"] == "rollback-now":
            break
    assert stops[-1]["testid"] == "rollback-now", [stop["text"] for stop in stops]
    assert len(stops) <= MAX_STOPS_TO_ROLL_BACK

    lead.keyboard.press("Enter")  # the confirmation opens, its reason next in line
    expect(lead.locator(".rollback-now")).to_have_attribute("open", "")
    lead.keyboard.press("Tab")
    assert focused(lead)["tag"] == "textarea"


def test_a_proposals_confirm_is_a_few_tab_stops_from_the_top(  # type: ignore[no-untyped-def]
    page, oncall_lead, rollback_owner, fraud, production, successor, live_release
):
    incident = open_war_room(oncall_lead, fraud, production)
    incidents.roll_back_incident(
        actor=None, incident=incident, reason="review_rate > 2.5 for 15 min",
        trigger={"metric": "review_rate", "value": "3.1"}, propose=True,
    )  # fmt: skip
    owner = page(rollback_owner)
    owner.goto(incident.get_absolute_url())
    confirm = f"Confirm rollback to {live_release.version}"

    owner.keyboard.press("Tab")
    owner.keyboard.press("Enter")  # the skip link
    stops = [focused(owner)]
    while len(stops) < MAX_STOPS_TO_ROLL_BACK and stops[-1]["text"] != confirm:
        owner.keyboard.press("Tab")
        stops.append(focused(owner))
    assert stops[-1]["text"] == confirm, [stop["text"] for stop in stops]


def test_every_control_in_the_war_room_shows_its_focus(  # type: ignore[no-untyped-def]
    page, oncall_lead, fraud, production, successor
):
    incident = open_war_room(oncall_lead, fraud, production)
    incidents.post_update(actor=oncall_lead, incident=incident, body="Traffic on the fallback.")
    lead = page(oncall_lead)
    lead.goto(incident.get_absolute_url())
    lead.locator(".war-controls").evaluate("details => { details.open = true; }")  # more stops

    unringed, seen = [], 0
    lead.keyboard.press("Tab")
    lead.evaluate("document.activeElement.dataset.walkStart = 'yes'")
    for _ in range(120):
        stop = focused(lead)
        if stop["tag"] == "body":
            break
        seen += 1
        if stop["outline"] < 2:
            unringed.append(stop)
        lead.keyboard.press("Tab")
        if lead.evaluate("document.activeElement.dataset.walkStart === 'yes'"):
            break  # round again to the skip link
    assert seen > 30  # the walk went through the whole page
    assert not unringed, unringed


def test_the_post_kind_radios_show_their_focus(  # type: ignore[no-untyped-def]
    page, artifacts_dir, oncall_lead, fraud, production, successor
):
    incident = open_war_room(oncall_lead, fraud, production)
    lead = page(oncall_lead)
    lead.goto(incident.get_absolute_url())
    lead.get_by_label("Add to the timeline").fill("Fallback at 100 %.")

    lead.keyboard.press("Tab")
    note = lead.get_by_role("radio", name="Note")
    expect(note).to_be_focused()
    assert focused(lead)["outline"] >= 2
    lead.keyboard.press("ArrowRight")  # the group moves together, the ring with it
    expect(lead.get_by_role("radio", name="Status update")).to_be_focused()
    assert focused(lead)["outline"] >= 2
    lead.locator(".post-form").screenshot(path=str(artifacts_dir / "war-room-radio-focus.png"))

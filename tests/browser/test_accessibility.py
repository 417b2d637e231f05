"""axe-core in a real browser on the pages people use most: none may have a serious or critical
violation (contrast under 4.5:1, a role ARIA does not allow, a control without a name...).

axe-core comes from npm, pinned in package-lock.json (`make axe-deps`); missing, the tests fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from incidents import services as incidents

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""


def violations(page: Page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(
            f"The accessibility tests need axe-core at {AXE}: run `make axe-deps` "
            "(npm ci, from package-lock.json).",
            pytrace=False,
        )
    page.wait_for_load_state("networkidle")
    # Evaluated through the DevTools protocol, as a <script> tag would be refused: the
    # Content-Security-Policy allows no inline script, and the tests keep it on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(RUN_AXE)
    return [violation for violation in found if violation["impact"] in BLOCKING]


def assert_accessible(page: Page) -> None:
    found = violations(page)
    report = "\n".join(
        f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found
    )
    assert not found, f"axe-core on {page.url}:\n{report}"


@pytest.fixture
def war_room(oncall_lead, fraud, production, successor):  # type: ignore[no-untyped-def]
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip
    incidents.post_update(actor=oncall_lead, incident=incident, body="Fallback at 100 %.")
    return incident


def test_the_home_page(page, war_room, oncall_lead):  # type: ignore[no-untyped-def]
    home = page(oncall_lead)
    home.goto("/")
    assert_accessible(home)


def test_the_war_room(page, war_room, oncall_lead):  # type: ignore[no-untyped-def]
    room = page(oncall_lead)
    room.goto(war_room.get_absolute_url())
    room.locator(".war-controls").evaluate("details => { details.open = true; }")
    room.get_by_test_id("rollback-now").click()  # the confirmation's form too
    assert_accessible(room)


def test_the_war_room_on_a_phone_with_the_menu_open(page, war_room, oncall_lead):  # type: ignore[no-untyped-def]
    room = page(oncall_lead)
    room.set_viewport_size(PHONE)
    room.goto(war_room.get_absolute_url())
    room.get_by_role("button", name="Menu").click()
    assert_accessible(room)


def test_a_release_page(page, successor, release_manager):  # type: ignore[no-untyped-def]
    release = page(release_manager)
    release.goto(successor.get_absolute_url())
    assert_accessible(release)


def test_the_new_release_form(page, live_release, model_owner):  # type: ignore[no-untyped-def]
    form = page(model_owner)
    form.goto("/releases/new/")
    assert_accessible(form)


def test_the_evidence_page(page, successor, compliance):  # type: ignore[no-untyped-def]
    evidence = page(compliance)
    evidence.goto("/systems/fraud/evidence/")
    assert_accessible(evidence)


def test_the_login_page(page):  # type: ignore[no-untyped-def]
    login = page(None)
    login.goto("/login/")
    assert_accessible(login)

"""Pages wrap any string: every text at its longest allowed, unbroken (no space to break at),
leaves each page as wide as the window, on a desktop and on a phone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page

from governance import limits
from governance import services as governance
from incidents import services as incidents
from releases import services as releases
from releases.models import MODEL_CARD_FIELDS, ComponentKind
from tests.fixtures.releases import stack

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}


def unbroken(cap: int, start: str = "") -> str:
    """`cap` characters with no place to break but the end (letters of two scripts)."""
    word = "Ünbröken\u0441\u043b\u043e\u0432\u043ewithoutspaces"  # Latin and Cyrillic
    body = (word * (cap // len(word) + 1))[: cap - len(start)]
    return start + body


def widest(page: Page) -> dict[str, object]:
    """The page's width against the window's, and the first elements that stick out."""
    return page.evaluate(
        """() => {
            const width = window.innerWidth;
            const out = [...document.querySelectorAll("body *")]
                .filter((el) => el.getBoundingClientRect().right > width + 1)
                .filter((el) => ![...el.children].some(
                    (child) => child.getBoundingClientRect().right > width + 1))
                .slice(0, 4)
                .map((el) => el.tagName.toLowerCase() + "." + [...el.classList].join(".")
                     + " " + Math.round(el.getBoundingClientRect().right));
            return {scroll: document.documentElement.scrollWidth, window: width, out};
        }"""
    )


@pytest.fixture
def long_world(fraud, owner, model_owner, oncall_lead, production):  # type: ignore[no-untyped-def]
    governance.update_system(
        actor=owner, system=fraud, name=unbroken(limits.NAME), slug=fraud.slug,
        intended_purpose=unbroken(limits.PROSE), risk_category=fraud.risk_category,
    )  # fmt: skip
    components = stack("9")
    for component in components:
        component["version"] = unbroken(100)
        component["uri"] = unbroken(500, f"s3://{component['kind']}/")
    release = releases.create_release(
        actor=model_owner, system=fraud, version=unbroken(64), title=unbroken(limits.NAME),
        card={name: unbroken(limits.PROSE) for name in MODEL_CARD_FIELDS},
        components=components,
    )  # fmt: skip
    releases.record_gate_check(
        actor=model_owner, release=release, criterion="benchmark", comparison="gte",
        measured_value=Decimal("0.9"), target=Decimal("0.8"), unit=unbroken(20),
        evidence_uri=unbroken(500, "https://evidence.example.com/"), note=unbroken(limits.NOTE),
    )  # fmt: skip
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title=unbroken(limits.NAME),
        severity="sev2", category="performance", summary=unbroken(limits.COMMENT),
    )  # fmt: skip
    incidents.post_update(actor=oncall_lead, incident=incident, body=unbroken(limits.POST))
    assert len(ComponentKind) == len(components)
    return {"release": release, "incident": incident}


def test_every_page_is_as_wide_as_the_window(page, artifacts_dir, long_world, oncall_lead):
    pages = {
        "systems": "/systems/",
        "system": "/systems/fraud/",
        "releases": "/releases/",
        "release": f"/releases/{long_world['release'].pk}/",
        "incidents": "/incidents/",
        "war-room": f"/incidents/{long_world['incident'].pk}/",
    }
    browser_page = page(oncall_lead)
    too_wide = []
    for device, (width, height) in VIEWPORTS.items():
        browser_page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            browser_page.goto(path)
            browser_page.wait_for_load_state("networkidle")
            size = widest(browser_page)
            browser_page.screenshot(path=str(artifacts_dir / f"long-{name}-{device}.png"))
            if name == "release":  # the stack's URIs and the gate's evidence, further down
                for part, text in (("stack", "s3://model/"), ("gate", "evidence.example")):
                    table = browser_page.locator("table", has_text=text).first
                    table.scroll_into_view_if_needed()
                    browser_page.screenshot(
                        path=str(artifacts_dir / f"long-{name}-{part}-{device}.png")
                    )
            if size["scroll"] > size["window"]:
                too_wide.append(f"{path} at {width} px: {size['scroll']} px wide: {size['out']}")
    assert not too_wide, too_wide

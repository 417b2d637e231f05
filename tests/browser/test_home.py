"""The home page in a real browser: the on-call lead's morning view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance import services as governance
from governance.roles import Role
from incidents import services as incidents
from releases import rollbacks
from releases import services as releases
from tests.fixtures.releases import pass_every_gate, rollbacks_held

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_the_home_page_shows_what_needs_attention(  # type: ignore[no-untyped-def]
    page, screenshot, successor, production, fraud, registrar, oncall_lead, rollback_owner,
    responder, make_release, model_owner,
):  # fmt: skip
    governance.grant_role(
        actor=registrar, system=fraud, role=Role.RELEASE_MANAGER, user=oncall_lead
    )
    now = timezone.now()
    spoof = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        category="adversarial", title="Spoofed card-testing bursts accepted",
    )  # fmt: skip
    incidents.classify_serious(
        actor=oncall_lead, incident=spoof, harm_categories=["property_or_environment"],
        aware_at=now - timedelta(days=13, hours=5),
    )  # fmt: skip
    drift = incidents.declare_incident(
        actor=oncall_lead, system=fraud, severity="sev2", category="drift",
        title="Review rate drifting up on mobile checkout",
    )  # fmt: skip
    incidents.declare_incident(
        actor=oncall_lead, system=fraud, severity="sev3", category="performance",
        title="p95 latency above budget in eu-west",
    )  # fmt: skip
    for incident, title, days in [
        (spoof, "Add a velocity canary to the release gate", 4),
        (drift, "Backfill labels for the October chargebacks", 1),
    ]:
        incidents.add_action_item(
            actor=oncall_lead, incident=incident, title=title, owner=responder,
            due_date=now.date() - timedelta(days=days),
        )  # fmt: skip
    with rollbacks_held():  # in flight
        rollbacks.request_rollback(
            actor=rollback_owner, environment=production, reason="Spoof acceptance incident"
        )
    waiting = make_release("3.0.0", title="Fraud model 3.0 (device fingerprint features)")
    pass_every_gate(waiting, model_owner)
    releases.save_rollback_plan(
        actor=model_owner, release=waiting, environment=production, owners=[rollback_owner],
        mode="manual", cooldown_minutes=30, triggers=[],
    )  # fmt: skip
    releases.submit_release(actor=model_owner, release=waiting)

    home = page(oncall_lead)
    home.goto("/")

    expect(home.get_by_role("heading", name="Overview")).to_be_visible()
    tiles = home.get_by_role("region", name="Summary")
    expect(tiles.get_by_role("link", name="Open incidents 3")).to_be_visible()
    expect(home.get_by_text("Spoofed card-testing bursts accepted").first).to_be_visible()
    expect(home.get_by_text("Add a velocity canary to the release gate")).to_be_visible()
    expect(home.get_by_text("Fraud model 3.0 (device fingerprint features)")).to_be_visible()
    expect(home.get_by_text("Art. 73(2)", exact=False)).to_be_visible()
    screenshot(home, "home.png")

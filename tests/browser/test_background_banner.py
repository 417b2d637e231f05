"""The war room says so when a rollback pressed now would wait in the queue: a rollback
requested and left unstarted (no worker takes it) brings up the banner without a reload."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config import health
from incidents import services
from releases.models import RollbackRequest
from releases.rollbacks import broker

pytestmark = pytest.mark.browser


def test_the_war_room_shows_that_rollbacks_are_queued_not_running(  # type: ignore[no-untyped-def]
    page, screenshot, monkeypatch, incident, earlier, rollback_owner, oncall_lead
):
    monkeypatch.setattr(health, "_found", (0.0, None))
    lead = page(oncall_lead)
    lead.goto(incident.get_absolute_url())
    expect(lead.get_by_test_id("rollback-now")).to_be_visible()
    expect(lead.get_by_test_id("background-trouble")).to_have_count(0)

    # Pressed, and no worker takes it (here: the hand-over never reaches one, so that a
    # worker another test left running cannot take it either).
    with mock.patch.object(broker, "enqueue"):
        request, _ = services.roll_back_incident(
            actor=rollback_owner, incident=incident, reason="x"
        )
    RollbackRequest.objects.filter(pk=request.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=1)
    )
    monkeypatch.setattr(health, "_found", (0.0, None))  # as if the process's TTL ran out
    banner = lead.get_by_test_id("background-trouble")
    # The next poll (every 10 s) asks again once the process's answer is older than 5 s.
    expect(banner).to_contain_text("Rollbacks are queued, not running", timeout=30_000)
    screenshot(lead, "war-room-queue-banner.png")

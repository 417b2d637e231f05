"""The demo `make run` loads: incidents in every state, consistent in time, loaded once."""

from __future__ import annotations

import pytest

from governance.audit.chain import seal_all
from governance.audit.verify_chain import verify_all
from governance.demo import load_demo
from incidents.models import Incident, Stage
from releases.models import RollbackRequest, RollbackStatus

pytestmark = pytest.mark.django_db


def test_the_demo_holds_a_live_incident_a_serious_one_and_a_closed_history():
    load_demo()
    load_demo()  # a second `make run` adds nothing
    incidents = Incident.objects.all()
    assert incidents.filter(stage=Stage.CONTAINMENT, severity="sev2").count() == 1
    serious = incidents.get(is_serious=True)
    assert serious.stage == Stage.ROLLBACK and serious.aware_at is not None
    closed = incidents.filter(stage=Stage.CLOSED)
    assert closed.count() == 10
    for incident in closed:
        stamps = [incident.detected_at, incident.acknowledged_at, incident.contained_at]
        stamps += [incident.recovered_at, incident.reviewed_at, incident.closed_at]
        assert stamps == sorted(stamps), incident.title  # the story happened in order
        entries = list(incident.timeline.values_list("occurred_at", flat=True))
        assert entries[0] == incident.detected_at and entries[-1] == incident.closed_at
    fixed_forward = closed.filter(rolled_back_at__isnull=True)
    assert all(i.skipped_stages == ["rollback"] for i in fixed_forward)
    assert incidents.get(live_release__isnull=False, stage=Stage.CONTAINMENT).live_release
    ongoing = incidents.get(stage=Stage.CONTAINMENT, severity="sev2")
    # The ongoing incident's alert left a proposal for a rollback owner to confirm.
    assert ongoing.alerts.exists()
    assert RollbackRequest.objects.filter(
        status=RollbackStatus.PROPOSED, environment=ongoing.environment
    ).exists()
    seal_all()  # back-dated events seal like any others
    assert verify_all().ok

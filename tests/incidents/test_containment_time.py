"""When an incident was contained: one rule (`lifecycle.mark_contained`), one field
(`Incident.contained_at`), and the war room's lifecycle, the post-mortem, the dashboard's time
to contain and the evidence answers all read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from governance.models import AuditEvent
from incidents import services
from incidents.models import EntryKind, Stage
from releases import rollbacks
from tests.factories import OpenIncidentFactory

pytestmark = pytest.mark.django_db

DETECTED = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)


def at(minutes: float):  # type: ignore[no-untyped-def]
    return time_machine.travel(DETECTED + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def incident(oncall_lead, fraud, successor, production):
    with at(0):
        return OpenIncidentFactory(
            actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
            severity="sev2", category="drift",
        )  # fmt: skip


@pytest.fixture
def contained_after_12_minutes(incident, responder):
    """A fallback requested 2 minutes after detection, done at 12; undone at 40."""
    with at(2):
        action = services.request_containment(
            actor=responder, incident=incident, kind="route_fallback", target="rules engine"
        )
    with at(12):
        action = services.set_containment_status(actor=responder, action=action, status="done")
    with at(40):
        services.set_containment_status(actor=responder, action=action, status="undone")
    return action


def stage_track(client, incident) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The war room's lifecycle: each stage's state and what it says of when."""
    page = client.get(incident.get_absolute_url()).content.decode()
    steps = re.findall(
        r'<li class="stage-step is-(\w+)".*?<span class="stage-name">([^<]+)</span>\s*'
        r'<span class="stage-when">(.*?)</span>\s*</li>',
        page,
        re.S,
    )
    assert steps, "no lifecycle on the war room"
    return {name: f"{state}: {re.sub(r'<[^>]+>', '', when).strip()}" for state, name, when in steps}


def postmortem_time_to_contain(client, incident) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/incidents/{incident.pk}/postmortem/").content.decode()
    tile = re.search(
        r'Time to contain</span>\s*(?:<span class="summary-value[^"]*">([^<]+)</span>)', page
    )
    assert tile, "no time to contain on the post-mortem"
    return tile.group(1)


def dashboard_contain(client) -> dict:  # type: ignore[no-untyped-def]
    with at(60):
        body = client.get("/api/incidents/metrics/").json()
    return body["summary"]["contain"]


def dashboard_page_contain(client) -> str:  # type: ignore[no-untyped-def]
    """The Contain column of the dashboard's first row by severity, as the page shows it."""
    with at(60):
        page = client.get("/incidents/dashboard/").content.decode()
    table = page.split("By severity", 1)[1]
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table, re.S)
    assert row, "no row by severity on the dashboard"
    cells = re.findall(r'<td class="insights-timing".*?</td>', row.group(1), re.S)
    _acknowledge, contain, _roll_back, _resolve = cells  # in the order of the columns
    median = re.search(r'<span class="insights-median">([^<]+)</span>', contain)
    return median.group(1) if median else "—"


def evidence_contained_at(client, incident) -> str | None:  # type: ignore[no-untyped-def]
    with at(60):
        response = client.get(
            "/api/systems/fraud/evidence/questions/monitoring/?start=2026-03-01&end=2026-03-31"
        )
    assert response.status_code == 200, response.content
    [row] = [i for i in response.json()["answer"]["incidents"] if i["id"] == incident.pk]
    return row["contained_at"]


def test_the_first_done_action_is_the_containment_time_everywhere(
    client, owner, oncall_lead, responder, incident, contained_after_12_minutes
):
    incident.refresh_from_db()
    assert incident.contained_at == DETECTED + timedelta(minutes=12)  # the undo changed nothing
    done = incident.timeline.get(data__status="done")
    assert done.kind == EntryKind.CONTAINMENT
    assert done.body == (
        "Route traffic to a fallback model: rules engine (done). Contained, 12 min after detection."
    )
    assert AuditEvent.objects.get(action="incident.containment_done").after["contained_at"] == (
        "2026-03-18T09:12:00+00:00"
    )

    # The team moves on past containment (it was done by the action, not as a stage).
    with at(30):
        services.move_stage(actor=oncall_lead, incident=incident, stage="rollback")
    incident.refresh_from_db()
    assert incident.skipped_stages == [] and incident.contained_at == DETECTED + timedelta(
        minutes=12
    )
    assert "Skipped" not in incident.timeline.filter(kind=EntryKind.STAGE).last().body

    client.force_login(owner)
    track = stage_track(client, incident)
    assert track["Containment"] == "done: 18 Mar, 09:12"
    assert postmortem_time_to_contain(client, incident) == "12 min"
    assert dashboard_contain(client) == {
        "count": 1, "median_minutes": 12.0, "mean_minutes": 12.0, "p90_minutes": 12.0,
    }  # fmt: skip
    assert dashboard_page_contain(client) == "12 min"
    assert evidence_contained_at(client, incident) == "2026-03-18T09:12:00Z"


def test_a_done_action_counts_while_the_incident_is_still_in_detection(
    client, owner, incident, contained_after_12_minutes
):
    incident.refresh_from_db()
    assert incident.stage == Stage.DETECTED

    client.force_login(owner)
    assert stage_track(client, incident)["Containment"] == "done: 18 Mar, 09:12"
    assert postmortem_time_to_contain(client, incident) == "12 min"


def test_a_second_done_action_or_leaving_the_stage_later_moves_nothing(
    incident, responder, oncall_lead, contained_after_12_minutes
):
    with at(20):
        services.move_stage(actor=oncall_lead, incident=incident, stage="containment")
        second = services.request_containment(
            actor=responder, incident=incident, kind="block_rule", target="rule 7"
        )
    with at(25):
        services.set_containment_status(actor=responder, action=second, status="done")
    with at(30):
        services.move_stage(actor=oncall_lead, incident=incident, stage="rollback")

    incident.refresh_from_db()
    assert incident.contained_at == DETECTED + timedelta(minutes=12)
    assert incident.timeline.get(data__containment=second.pk, data__status="done").data == {
        "containment": second.pk, "status": "done", "contained": False,
    }  # fmt: skip


def test_without_an_action_leaving_the_containment_stage_is_the_containment_time(
    client, owner, oncall_lead, incident
):
    with at(5):
        services.move_stage(actor=oncall_lead, incident=incident, stage="containment")
    with at(35):
        services.move_stage(actor=oncall_lead, incident=incident, stage="recovery")

    client.force_login(owner)
    assert stage_track(client, incident)["Containment"] == "done: 18 Mar, 09:35"
    assert postmortem_time_to_contain(client, incident) == "35 min"
    assert dashboard_contain(client)["median_minutes"] == 35.0


def test_a_verified_rollback_contains_an_incident_nothing_contained_before(
    client, owner, rollback_owner, incident
):
    with at(7):
        request, _ = services.roll_back_incident(
            actor=rollback_owner, incident=incident, reason="x"
        )
        rollbacks.run_rollback(request_id=request.pk)

    incident.refresh_from_db()
    assert incident.contained_at == incident.rolled_back_at == DETECTED + timedelta(minutes=7)
    assert incident.skipped_stages == []
    client.force_login(owner)
    assert stage_track(client, incident)["Containment"] == "done: 18 Mar, 09:07"
    assert postmortem_time_to_contain(client, incident) == "7 min"
    assert dashboard_contain(client)["median_minutes"] == 7.0
    assert dashboard_page_contain(client) == "7 min"
    assert evidence_contained_at(client, incident) == "2026-03-18T09:07:00Z"


def test_skipping_containment_and_the_rollback_leaves_it_uncontained(
    client, owner, oncall_lead, incident
):
    with at(50):
        services.move_stage(actor=oncall_lead, incident=incident, stage="recovery")

    incident.refresh_from_db()
    assert incident.contained_at is None
    assert incident.skipped_stages == [Stage.CONTAINMENT, Stage.ROLLBACK]
    client.force_login(owner)
    assert stage_track(client, incident)["Containment"] == "skipped: skipped"
    assert postmortem_time_to_contain(client, incident) == "Not contained"
    assert dashboard_contain(client)["count"] == 0
    assert dashboard_page_contain(client) == "—"
    assert evidence_contained_at(client, incident) is None


def test_an_action_done_after_the_incident_closed_contains_nothing(
    incident, responder, oncall_lead
):
    with at(2):
        action = services.request_containment(
            actor=responder, incident=incident, kind="block_rule", target="rule 7"
        )
    incident.refresh_from_db()
    incident.stage = Stage.CLOSED  # as publishing the post-mortem leaves it
    incident.save(update_fields=["stage"])

    with at(90):
        services.set_containment_status(actor=responder, action=action, status="done")

    incident.refresh_from_db()
    assert incident.contained_at is None


def test_the_migration_gives_earlier_incidents_their_containment_time(
    incident, responder, oncall_lead, contained_after_12_minutes
):
    """Recorded before the rule: the stage left at 30 min, the action done at 12 not counted."""
    import importlib

    from django.db import connection

    from incidents.models import Incident

    migration = importlib.import_module(
        "incidents.migrations.0004_contained_at_by_the_first_done_action"
    )
    with at(30):
        services.move_stage(actor=oncall_lead, incident=incident, stage="rollback")
    Incident.objects.filter(pk=incident.pk).update(
        contained_at=None, skipped_stages=["containment"]
    )

    with connection.cursor() as cursor:
        cursor.execute(migration.CONTAINED_BY_THE_RULE)

    incident.refresh_from_db()
    assert incident.contained_at == DETECTED + timedelta(minutes=12)
    assert incident.skipped_stages == []

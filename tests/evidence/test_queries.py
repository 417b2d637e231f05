"""The answers, the coverage and their pages cost the same number of queries however much
history there is: the story of conftest.py, then the story with more of everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.evidence.controls import filled_mapping
from governance.evidence.questions import answer_all
from incidents import services as incident_services
from releases import rollbacks
from tests.evidence.conftest import PERIOD, _live, _release, at
from tests.factories import UserFactory
from tests.fixtures.releases import CARD
from tests.releases.bulk import bulk_approvals, bulk_gate_checks

pytestmark = pytest.mark.django_db


def queries(call: Callable[[], Any]) -> int:
    call()  # warm process-wide caches (content types, the gate policy)
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def more_history(h) -> None:  # type: ignore[no-untyped-def]
    """Another release live, more alerts, incidents, checks, approvals and a second drill."""
    with time_machine.travel(at(26, 9), tick=False):  # incident 1 recovered: no more freeze
        incident_services.move_stage(
            actor=h.people["oncall_lead"], incident=h.incidents[0], stage="review"
        )
    release = _release("1.3.0", at(26, 10), at(27, 11), people=h.people,
                       environment=h.production, mode="manual", triggers=[], card=CARD)  # fmt: skip
    _live(release, h.people["release_manager"], h.staging, at(27, 14))
    with time_machine.travel(at(27, 16), tick=False):
        drill, _ = rollbacks.request_rollback(
            actor=h.people["rollback_owner"], environment=h.staging, reason="Drill", drill=True
        )
        rollbacks.run_rollback(request_id=drill.pk)
    _live(release, h.people["release_manager"], h.production, at(28, 10))
    for n in range(6):
        with time_machine.travel(at(29, 10, n), tick=False):
            alert = incident_services.parse_generic(
                {"name": f"Latency{n}", "severity": "high", "environment": "production"}
            )[0]
            incident_services.ingest_alert(system=h.system, alert=alert)
    bulk_gate_checks(h.releases["1.1.0"], h.people["model_owner"], 30)
    bulk_approvals(h.releases["1.1.0"], [UserFactory() for _ in range(5)])


ASKS = {
    "answer_all": lambda h: answer_all(system=h.system, start=PERIOD[0], end=PERIOD[1]),
    "filled_mapping": lambda h: filled_mapping(system=h.system, start=PERIOD[0], end=PERIOD[1]),
}


@pytest.mark.parametrize("name", list(ASKS))
def test_the_pack_functions_cost_the_same_with_more_history(evidence_history, name):
    ask = ASKS[name]
    few = queries(lambda: ask(evidence_history))
    more_history(evidence_history)
    many = queries(lambda: ask(evidence_history))
    assert many == few
    assert few <= 40


PAGES = [
    "/systems/fraud/evidence/",
    "/systems/fraud/evidence/coverage/?start=2026-10-01&end=2026-10-31",
    "/systems/fraud/evidence/questions/live/?environment=production&at=2026-10-30T00:00Z",
    "/systems/fraud/evidence/questions/approval/?release=1.1.0",
    "/systems/fraud/evidence/questions/changes/?release=1.1.0",
    "/systems/fraud/evidence/questions/monitoring/?start=2026-10-01&end=2026-10-31",
    "/systems/fraud/evidence/questions/rollback_plan/?release=1.1.0",
    "/api/systems/fraud/evidence/?start=2026-10-01&end=2026-10-31",
    "/api/systems/fraud/evidence/coverage/?start=2026-10-01&end=2026-10-31",
    "/api/systems/fraud/evidence/questions/monitoring/?start=2026-10-01&end=2026-10-31",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_and_api_cost_the_same_with_more_history(client, evidence_history, path):
    client.force_login(evidence_history.people["compliance"])

    def get() -> None:
        assert client.get(path).status_code == 200

    few = queries(get)
    more_history(evidence_history)
    many = queries(get)
    assert many == few

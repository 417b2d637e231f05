"""The evidence pages: the hub, each question, the coverage page — rendered from the story's
data, sound HTML, bad input answered with a 400 and a message, never a 500."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from governance.people import person_label
from tests.evidence.html import html_problems

pytestmark = pytest.mark.django_db

HUB = "/systems/fraud/evidence/"
COVERAGE = "/systems/fraud/evidence/coverage/"


def question(key: str, query: str = "") -> str:
    return f"/systems/fraud/evidence/questions/{key}/" + (f"?{query}" if query else "")


def page(client, path: str, status: int = 200, **headers) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path, **headers)
    assert response.status_code == status, response.content[:400]
    content = response.content.decode()
    assert html_problems(content) == []
    return content


@pytest.fixture
def auditor(client, evidence_history):  # type: ignore[no-untyped-def]
    client.force_login(evidence_history.people["compliance"])
    return client


def test_the_system_page_links_the_evidence_for_those_who_may_read_it(client, evidence_history):
    client.force_login(evidence_history.people["compliance"])
    assert HUB in page(client, "/systems/fraud/")
    client.force_login(evidence_history.people["viewer"])
    assert HUB not in page(client, "/systems/fraud/")


def test_the_hub_asks_the_five_questions_and_summarises_the_coverage(auditor):
    content = page(auditor, HUB)
    for title in [
        "Which release was live in an environment at a given time?",
        "Which evaluation and gate checks approved it, and who approved it?",
        "What changed since the previous version?",
        "How was it monitored after launch?",
        "What was the rollback plan in force, and was it followed?",
    ]:
        assert title in content
    assert 'name="environment"' in content and 'name="release"' in content
    assert 'name="start"' in content and 'name="at"' in content
    assert '<option value="1.1.0"' in content and '<option value="staging"' in content
    assert COVERAGE in content
    assert "Controls mapped" in content


def test_the_export_link_is_offered_to_those_who_may_export(client, evidence_history):
    client.force_login(evidence_history.people["compliance"])
    assert "data-evidence-pack" in page(client, HUB)
    client.force_login(evidence_history.people["release_manager"])  # reads, does not export
    assert "data-evidence-pack" not in page(client, HUB)


def test_the_live_question_names_the_release_and_its_stack(auditor):
    content = page(auditor, question("live", "environment=production&at=2026-10-15T12:00Z"))
    assert "was live in Production" in content
    assert ">1.1.0</a>" in content
    assert "threshold_policy-1.1.0" in content
    assert "in force at 15 Oct, 12:00" in content
    assert "rollback" in content  # the history shows the rollback's period
    after = page(auditor, question("live", "environment=production&at=2026-10-17T00:00Z"))
    assert "a rollback</span>" in after


def test_the_approval_question_shows_who_approved_when_and_why(auditor):
    content = page(auditor, question("approval", "release=1.1.0"))
    assert "Threshold change reviewed against Q3 data." in content
    assert "Recall gain confirmed." in content
    assert "11 Oct 2026, 11:00" in content
    assert "Gate passed" in content
    assert "2 of 2 required" in content
    assert "evaluation-1.1.0" in content


def test_the_changes_question_shows_the_diff(auditor):
    content = page(auditor, question("changes", "release=1.1.0"))
    assert "the release it replaced in Production" in content
    # model, threshold policy, evaluation; and two fields of the model card
    assert content.count('class="is-changed"') == 3 + 2
    assert "New velocity model; review threshold lowered to 0.62." in content


def test_the_monitoring_question_shows_alerts_incidents_and_rollbacks(auditor, evidence_history):
    content = page(auditor, question("monitoring", "start=2026-10-01&end=2026-10-31"))
    assert "ReviewRateHigh" in content and "ScoreDrift" in content
    assert f"INC-{evidence_history.incidents[0].pk}" in content
    assert "Approval gap for new customers" in content
    assert "3.0 min" in content  # median time to roll back


def test_the_rollback_plan_question_shows_the_verdict_and_the_drills(auditor, evidence_history):
    content = page(auditor, question("rollback_plan", "release=1.1.0"))
    assert "review_rate &gt; 2.5 for 15 min" in content
    assert "as planned" in content
    rob = person_label(evidence_history.people["rollback_owner"])
    assert escape(f"Requested by {rob}, a rollback owner the plan names.") in content
    assert "Quarterly rollback drill" in content


def test_htmx_asks_get_only_the_answer(auditor):
    response = auditor.get(
        question("live", "environment=staging&at=2026-10-13T15:30Z"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="answer",
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="answer"')
    assert "<html" not in content
    assert "was live in Staging" in content


@pytest.mark.parametrize(
    ("key", "query", "message"),
    [
        ("live", "environment=moon", "has no environment &#x27;moon&#x27;"),
        ("live", "at=yesterday", "is not a date or time"),
        ("approval", "release=9.9.9", "has no release &#x27;9.9.9&#x27;"),
        ("monitoring", "start=2026-10-31&end=2026-10-01", "The period ends before it starts."),
    ],
)
def test_bad_input_is_a_400_with_the_reason(auditor, key, query, message):
    content = page(auditor, question(key, query), status=400)
    assert message in content
    assert 'class="field-error"' in content or "form-errors" in content


def test_an_unknown_question_is_a_404(auditor):
    assert auditor.get(question("horoscope")).status_code == 404


def test_the_coverage_page_shows_each_control_its_evidence_and_status(auditor):
    content = page(auditor, COVERAGE + "?start=2026-10-01&end=2026-10-31")
    for control in ["Art. 14(4)(e)", "Annex IV(9)", "MANAGE 2.4", "MANAGE 4.3", "A.6.2.8"]:
        assert control in content
    assert "ev-status-held" in content and "ev-status-partial" in content
    assert "ev-status-outside" in content
    assert "Missing: containment actions." in content
    assert "1 Oct 2026 \u2013 31 Oct 2026" in content  # the days asked for, both included


def test_the_coverage_page_filters_by_framework_and_refuses_an_inverted_period(auditor):
    nist = page(auditor, COVERAGE + "?framework=nist_ai_rmf")
    assert "MANAGE 2.4" in nist and "Art. 14(4)(e)" not in nist
    content = page(auditor, COVERAGE + "?start=2026-10-31&end=2026-10-01", status=400)
    assert "The period ends before it starts." in content


def test_a_system_the_officer_holds_no_role_on_does_not_exist_for_them(auditor, other_system):
    for path in [
        "/systems/hidden/evidence/",
        "/systems/hidden/evidence/coverage/",
        "/systems/hidden/evidence/questions/live/",
        "/api/systems/hidden/evidence/",
        "/api/systems/hidden/evidence/coverage/",
        "/api/systems/hidden/evidence/questions/live/",
    ]:
        assert auditor.get(path).status_code == 404, path


def test_a_viewer_sees_the_system_but_not_its_evidence(client, evidence_history):
    client.force_login(evidence_history.people["viewer"])
    assert client.get(HUB).status_code == 403
    assert client.get("/api/systems/fraud/evidence/coverage/").status_code == 403


def test_the_pages_render_for_a_system_with_no_history(client, fraud, compliance):
    client.force_login(compliance)
    page(client, HUB)
    page(client, COVERAGE)
    for key in ["live", "approval", "changes", "monitoring", "rollback_plan"]:
        page(client, question(key))

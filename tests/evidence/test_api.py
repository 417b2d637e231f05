"""The questions and the coverage over the API: the same answers as JSON; bad input is a 400
with a JSON body naming the input, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

API = "/api/systems/fraud/evidence/"


@pytest.fixture
def api(client, evidence_history):  # type: ignore[no-untyped-def]
    client.force_login(evidence_history.people["compliance"])
    return client


def test_each_question_answers_as_json(api, evidence_history):
    live = api.get(API + "questions/live/?environment=production&at=2026-10-15T12:00:00Z")
    assert live.status_code == 200
    body = live.json()
    assert (body["system"], body["question"]) == ("fraud", "live")
    assert body["answer"]["live"]["release"]["version"] == "1.1.0"
    assert body["answer"]["live"]["started_at"] == "2026-10-14T10:00:00Z"
    assert body["answer"]["at"] == "2026-10-15T12:00:00Z"

    approval = api.get(API + "questions/approval/?release=1.1.0").json()["answer"]
    assert [a["comment"] for a in approval["approvals"]] == [
        "Threshold change reviewed against Q3 data.",
        "Recall gain confirmed.",
    ]
    changes = api.get(API + "questions/changes/?release=1.2.0").json()["answer"]
    assert changes["base"]["version"] == "1.0.0"
    monitoring = api.get(API + "questions/monitoring/?start=2026-10-01&end=2026-10-31").json()
    assert monitoring["answer"]["summary"]["rollbacks"] == 1
    assert monitoring["answer"]["rollbacks"][0]["incident"] == evidence_history.incidents[0].pk
    plan = api.get(API + "questions/rollback_plan/?release=1.1.0").json()["answer"]
    assert plan["followed"] is True
    assert [t["threshold"] for t in plan["plan"]["triggers"]] == ["2.5"]


def test_every_answer_for_a_period_at_once(api):
    body = api.get(API + "?start=2026-10-01&end=2026-10-31").json()
    assert body["period"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    assert [q["key"] for q in body["questions"]] == [
        "live", "approval", "changes", "monitoring", "rollback_plan"]  # fmt: skip


def test_the_coverage_as_json(api):
    body = api.get(API + "coverage/?start=2026-10-01&end=2026-10-31").json()
    assert body["system"] == "fraud"
    assert body["end"] == "2026-11-01T00:00:00Z"
    assert sum(body["summary"].values()) == len(body["controls"])
    interrupt = next(c for c in body["controls"] if c["id"] == "Art. 14(4)(e)")
    assert interrupt["missing"] == ["containment_action"]
    assert interrupt["status"] == "none"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("questions/live/?environment=moon", "environment"),
        ("questions/live/?at=2026-10-15T25:00", "at"),
        ("questions/live/?at=not-a-time", "at"),
        ("questions/approval/?release=9.9.9", "release"),
        ("questions/changes/?release=9.9.9", "release"),
        ("questions/monitoring/?release=9.9.9", "release"),
        ("questions/monitoring/?start=2026-10-31&end=2026-10-01", "end"),
        ("questions/rollback_plan/?release=9.9.9", "release"),
        ("questions/approval/?release=1.1.0&at=2026-10-15T12:00:00Z", "at"),  # not its input
        ("questions/live/?environment=production&start=2026-10-01", "start"),
        ("coverage/?start=2026-10-31&end=2026-10-01", "end"),
        ("coverage/?start=whenever", "start"),
        ("?end=2026-02-30", "end"),
    ],
)
def test_bad_input_is_a_400_naming_the_input(api, path, field):
    response = api.get(API + path)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()
    assert isinstance(response.json()[field][0], str)


def test_an_unknown_question_is_a_404(api):
    assert api.get(API + "questions/horoscope/").status_code == 404


def test_the_schema_documents_the_evidence_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    question = paths["/api/systems/{slug}/evidence/questions/{key}/"]["get"]
    names = {p["name"] for p in question["parameters"]}
    assert {"slug", "key", "environment", "at", "release", "start", "end"} <= names
    key = next(p for p in question["parameters"] if p["name"] == "key")
    assert set(key["schema"]["enum"]) == {"live", "approval", "changes", "monitoring",
                                          "rollback_plan"}  # fmt: skip
    assert "400" in question["responses"]
    assert "/api/systems/{slug}/evidence/coverage/" in paths
    assert "/api/systems/{slug}/evidence/" in paths

"""The auditor's questions, answered against a month of history built through the services
(see conftest.py for the story): what was live, who approved it, what changed, how it was
monitored, and whether the rollback plan was followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from governance.evidence import questions
from governance.evidence.questions import Params, answer_all, answer_one, parse_params
from governance.people import person_label
from incidents import services as incident_services
from releases import rollbacks
from tests.evidence.conftest import PERIOD, at

pytestmark = pytest.mark.django_db


def live(history, environment: str, when: datetime) -> dict:  # type: ignore[no-untyped-def]
    return answer_one(history.system, "live", Params(environment=environment, at=when))


def versions(periods: list[dict]) -> list[tuple[str, str, str | None, str]]:
    return [
        (p["release"]["version"], questions.iso(p["started_at"]) or "",
         questions.iso(p["ended_at"]), p["via"])
        for p in periods
    ]  # fmt: skip


# --- which release was live in environment E at time T? -------------------------------------


@pytest.mark.parametrize(
    ("environment", "when", "expected", "via"),
    [
        ("production", at(2, 12), None, None),  # not yet in production
        ("production", at(3, 10), "1.0.0", "rollout"),  # the very minute it went live
        ("production", at(15, 12), "1.1.0", "rollout"),
        ("production", at(16, 8, 22), "1.1.0", "rollout"),  # pressed at 08:20, not yet verified
        ("production", at(16, 8, 23), "1.0.0", "rollback"),  # verified: the rollback's period
        ("production", at(20, 0), "1.0.0", "rollback"),
        ("production", at(30, 0), "1.2.0", "rollout"),
        ("staging", at(12, 10), "1.1.0", "rollout"),
        ("staging", at(13, 15, 30), "1.0.0", "rollback"),  # the drill put 1.0.0 back
        ("staging", at(21, 14), "1.2.0", "rollout"),
    ],
)
def test_it_names_the_release_live_at_a_moment(evidence_history, environment, when, expected, via):
    answer = live(evidence_history, environment, when)
    assert answer["environment"]["slug"] == environment
    if expected is None:
        assert answer["live"] is None
    else:
        assert (answer["live"]["release"]["version"], answer["live"]["via"]) == (expected, via)


def test_it_gives_the_whole_decision_stack_in_force(evidence_history):
    answer = live(evidence_history, "production", at(15, 12))
    release = answer["live"]["release"]
    assert release["stack"]["model"]["version"] == "model-1.1.0"
    assert release["stack"]["threshold_policy"]["version"] == "threshold_policy-1.1.0"
    assert release["stack"]["fusion"]["version"] == "fusion-1.0.0"
    assert set(release["stack"]) == {"model", "fusion", "threshold_policy", "sdk", "dataset",
                                     "evaluation"}  # fmt: skip
    assert release["content_digest"] == evidence_history.releases["1.1.0"].content_digest
    assert (answer["live"]["started_at"], answer["live"]["ended_at"]) == (at(14, 10), at(16, 8, 23))


def test_it_shows_the_environment_history_with_the_period_in_force(evidence_history):
    answer = live(evidence_history, "production", at(15, 12))
    assert versions(answer["timeline"]) == [
        ("1.2.0", "2026-10-22T10:00:00Z", None, "rollout"),
        ("1.0.0", "2026-10-16T08:23:00Z", "2026-10-22T10:00:00Z", "rollback"),
        ("1.1.0", "2026-10-14T10:00:00Z", "2026-10-16T08:23:00Z", "rollout"),
        ("1.0.0", "2026-10-03T10:00:00Z", "2026-10-14T10:00:00Z", "rollout"),
    ]
    assert [p["in_force"] for p in answer["timeline"]] == [False, False, True, False]


def test_without_input_it_answers_for_production_now(evidence_history):
    answer = answer_one(evidence_history.system, "live", Params())
    assert answer["environment"]["slug"] == "production"
    assert answer["live"]["release"]["version"] == "1.2.0"
    assert answer["live"]["ended_at"] is None


def test_an_unknown_environment_is_refused_by_name(evidence_history):
    with pytest.raises(ValidationError) as refused:
        live(evidence_history, "moon", at(15, 12))
    assert "moon" in refused.value.message_dict["environment"][0]


def test_the_period_answer_is_each_environments_timeline(evidence_history):
    answer = questions.get_question("live").answer_period(  # type: ignore[union-attr]
        evidence_history.system, at(15, 0), at(21, 0)
    )
    by_environment = {e["slug"]: versions(e["periods"]) for e in answer["environments"]}
    assert list(by_environment) == ["staging", "production"]
    assert by_environment["staging"] == [
        ("1.0.0", "2026-10-13T15:02:00Z", "2026-10-21T14:00:00Z", "rollback"),
    ]
    assert by_environment["production"] == [
        ("1.1.0", "2026-10-14T10:00:00Z", "2026-10-16T08:23:00Z", "rollout"),
        ("1.0.0", "2026-10-16T08:23:00Z", "2026-10-22T10:00:00Z", "rollback"),
    ]


# --- which evaluation and gate checks approved it, and who approved it? ---------------------


def test_it_names_the_approvers_their_comments_and_the_gate(evidence_history):
    answer = answer_one(evidence_history.system, "approval", Params(release="1.1.0"))
    assert answer["release"]["version"] == "1.1.0"
    assert answer["author"]["username"] == "mona"
    assert (answer["submitted_at"], answer["decided_at"]) == (at(10, 10), at(11, 11))
    assert [
        (a["approver"]["username"], a["decision"], a["comment"], a["decided_at"],
         a["digest_matches"])
        for a in answer["approvals"]
    ] == [
        ("ravi", "approve", "Threshold change reviewed against Q3 data.", at(11, 11), True),
        ("rita", "approve", "Recall gain confirmed.", at(11, 11), True),
    ]  # fmt: skip
    gate = answer["gate"]
    assert (gate["passed"], gate["approvals_required"], gate["approvals_given"]) == (True, 2, 2)
    assert len(gate["criteria"]) == 7
    assert all(c["required"] and c["passed"] for c in gate["criteria"])
    benchmark = next(c for c in gate["criteria"] if c["criterion"] == "benchmark")
    assert benchmark["check"]["evidence_uri"] == "https://wiki.example.com/benchmark"
    assert benchmark["check"]["recorded_by"]["username"] == "mona"
    assert benchmark["check"]["recorded_at"] == at(10, 10)
    assert answer["evaluation"]["version"] == "evaluation-1.1.0"


def test_a_rollback_drill_stands_as_the_rollback_path_check(evidence_history):
    # 1.2.0 was registered a week after the drill: the drill's verdict is its check.
    answer = answer_one(evidence_history.system, "approval", Params(release="1.2.0"))
    ready = next(c for c in answer["gate"]["criteria"] if c["criterion"] == "rollback_ready")
    assert ready["passed"] is True
    assert ready["check"]["drill"] == evidence_history.drill.pk
    assert ready["check"]["recorded_by"]["username"] == "rob"
    assert ready["check"]["valid_until"] == at(13, 15, 2) + timedelta(days=30)
    assert answer["gate"]["as_of"] == at(21, 11)


def test_without_a_release_it_answers_for_the_one_live_in_production(evidence_history):
    answer = answer_one(evidence_history.system, "approval", Params())
    assert answer["release"]["version"] == "1.2.0"
    assert [a["comment"] for a in answer["approvals"]] == [
        "Threshold restored for first-time buyers.",
        "Bias review attached.",
    ]


def test_an_unknown_release_is_refused_by_name(evidence_history):
    with pytest.raises(ValidationError) as refused:
        answer_one(evidence_history.system, "approval", Params(release="9.9.9"))
    assert "9.9.9" in refused.value.message_dict["release"][0]


def test_the_period_answer_covers_releases_live_or_decided_in_it(evidence_history):
    approval = questions.get_question("approval")
    assert approval is not None
    everything = approval.answer_period(evidence_history.system, *PERIOD)
    assert [r["release"]["version"] for r in everything["releases"]] == ["1.0.0", "1.1.0", "1.2.0"]
    # 15 to 20 Oct: 1.1.0 and 1.0.0 were live; nothing was registered or decided.
    middle = approval.answer_period(evidence_history.system, at(15, 0), at(20, 0))
    assert [r["release"]["version"] for r in middle["releases"]] == ["1.0.0", "1.1.0"]


# --- what changed since the previous version? -----------------------------------------------


def changed(answer: dict) -> list[str]:
    return [c["kind"] for c in answer["components"] if c["changed"]]


def test_it_diffs_a_release_against_the_one_it_replaced_in_production(evidence_history):
    answer = answer_one(evidence_history.system, "changes", Params(release="1.1.0"))
    assert answer["base"]["version"] == "1.0.0"
    assert answer["base_reason"] == "the release it replaced in Production"
    assert changed(answer) == ["model", "threshold_policy", "evaluation"]
    policy = next(c for c in answer["components"] if c["kind"] == "threshold_policy")
    assert (policy["before"]["version"], policy["after"]["version"]) == (
        "threshold_policy-1.0.0",
        "threshold_policy-1.1.0",
    )
    assert policy["fields_changed"] == ["version", "uri", "digest"]
    assert [c["field"] for c in answer["card"] if c["changed"]] == ["what_changed", "known_risks"]
    assert answer["change_categories"] == [
        {"value": "threshold_policy_update", "label": "Threshold / policy update"}
    ]


def test_after_a_rollback_the_next_release_is_diffed_against_what_was_really_live(
    evidence_history,
):
    # 1.1.0 was rolled back: 1.2.0 replaced 1.0.0 in production, so that is its baseline.
    answer = answer_one(evidence_history.system, "changes", Params(release="1.2.0"))
    assert answer["base"]["version"] == "1.0.0"
    assert changed(answer) == ["model", "threshold_policy", "evaluation"]
    assert [c["field"] for c in answer["card"] if c["changed"]] == ["what_changed"]


def test_the_first_release_has_nothing_before_it(evidence_history):
    answer = answer_one(evidence_history.system, "changes", Params(release="1.0.0"))
    assert answer["base"] is None
    assert answer["base_reason"] == "the first release of the system"
    assert len(changed(answer)) == 6
    assert all(c["before"] is None for c in answer["components"])


def test_the_period_answer_diffs_each_release_that_went_live(evidence_history):
    changes = questions.get_question("changes")
    assert changes is not None
    answer = changes.answer_period(evidence_history.system, at(12, 0), at(23, 0))
    assert [(r["release"]["version"], r["base"]["version"]) for r in answer["releases"]] == [
        ("1.1.0", "1.0.0"),
        ("1.2.0", "1.0.0"),
    ]


# --- how was it monitored after launch? -----------------------------------------------------


def test_it_lists_alerts_incidents_and_rollbacks_of_the_period(evidence_history):
    h = evidence_history
    answer = answer_one(h.system, "monitoring",
                        Params(start=PERIOD[0], end=PERIOD[1]))  # fmt: skip
    assert answer["summary"] == {
        "alerts": 3,
        "alerts_firing": 2,
        "incidents": 2,
        "incidents_open": 2,
        "serious_incidents": 0,
        "rollbacks": 1,
        "rollbacks_succeeded": 1,
        "rollbacks_failed": 0,
        "median_minutes_to_rollback": 3.0,
    }
    assert [(a["name"], a["status"], a["incident"]) for a in answer["alerts"]] == [
        ("ScoreDrift", "firing", None),
        ("ReviewRateHigh", "resolved", h.incidents[0].pk),
        ("ReviewRateHigh", "firing", h.incidents[0].pk),
    ]
    assert [
        (i["id"], i["severity"], i["category"], i["source"], i["live_release"], i["rollbacks"])
        for i in answer["incidents"]
    ] == [
        (h.incidents[0].pk, "sev1", "performance", "alert", "1.1.0", [h.rollback.pk]),
        (h.incidents[1].pk, "sev3", "bias", "user_report", "1.2.0", []),
    ]
    assert answer["incidents"][0]["detected_at"] == datetime(2026, 10, 16, 7, 55, tzinfo=UTC)
    [rollback] = answer["rollbacks"]
    assert (rollback["from_release"], rollback["to_release"], rollback["status"]) == (
        "1.1.0", "1.0.0", "succeeded")  # fmt: skip
    assert rollback["requested_by"]["username"] == "rob"
    assert rollback["incident"] == h.incidents[0].pk
    assert (rollback["requested_at"], rollback["finished_at"]) == (at(16, 8, 20), at(16, 8, 23))
    assert rollback["minutes_to_finish"] == 3.0
    assert not rollback["is_drill"]


def test_for_one_release_it_keeps_to_the_time_it_was_live(evidence_history):
    h = evidence_history
    answer = answer_one(h.system, "monitoring",
                        Params(release="1.1.0", start=PERIOD[0], end=PERIOD[1]))  # fmt: skip
    assert answer["release"]["version"] == "1.1.0"
    # Its deployment periods, exactly: not the period asked about.
    assert [(w["environment"], w["start"], w["end"], w["still_live"])
            for w in answer["live_windows"]] == [
        ("Staging", at(12, 10), at(13, 15, 2), False),
        ("Production", at(14, 10), at(16, 8, 23), False),
    ]  # fmt: skip
    # The resolution came at 09:00, after 1.0.0 was back: it belongs to 1.0.0's watch.
    assert [(a["name"], a["status"]) for a in answer["alerts"]] == [("ReviewRateHigh", "firing")]
    assert [i["id"] for i in answer["incidents"]] == [h.incidents[0].pk]
    assert [r["id"] for r in answer["rollbacks"]] == [h.rollback.pk]

    later = answer_one(h.system, "monitoring",
                       Params(release="1.2.0", start=PERIOD[0], end=PERIOD[1]))  # fmt: skip
    assert [a["name"] for a in later["alerts"]] == ["ScoreDrift"]
    assert [i["id"] for i in later["incidents"]] == [h.incidents[1].pk]
    assert later["rollbacks"] == []


def test_a_narrower_period_narrows_the_answer(evidence_history):
    answer = answer_one(evidence_history.system, "monitoring",
                        Params(start=at(20, 0), end=PERIOD[1]))  # fmt: skip
    assert (answer["summary"]["alerts"], answer["summary"]["incidents"],
            answer["summary"]["rollbacks"]) == (1, 1, 0)  # fmt: skip


# --- the rollback plan in force, and was it followed? Were drills run? ----------------------


def test_it_shows_the_plan_and_that_the_rollback_followed_it(evidence_history):
    h = evidence_history
    answer = answer_one(h.system, "rollback_plan", Params(release="1.1.0"))
    plan = answer["plan"]
    assert plan["environment"]["slug"] == "production"
    assert plan["target_release"] == "1.0.0"
    assert [o["username"] for o in plan["owners"]] == ["rob"]
    assert (plan["mode"], plan["cooldown_minutes"]) == ("auto_propose", 30)
    assert [t["text"] for t in plan["triggers"]] == ["review_rate > 2.5 for 15 min"]
    assert plan["written_by"]["username"] == "mona"
    [rollback] = answer["rollbacks"]
    assert rollback["id"] == h.rollback.pk
    assert [(c["check"], c["ok"]) for c in rollback["checks"]] == [
        ("environment", True), ("target", True), ("owner", True), ("trigger", True)]  # fmt: skip
    assert rollback["checks"][1]["detail"] == "Went to 1.0.0; the plan names 1.0.0."
    rob = person_label(h.people["rollback_owner"])
    assert (
        rollback["checks"][2]["detail"] == f"Requested by {rob}, a rollback owner the plan names."
    )
    assert rollback["followed"] is True
    assert answer["followed"] is True
    # Art. 73(6): the record of what was live, kept before the rollback, beside it.
    forensics = h.rollback.forensics
    assert (rollback["forensic_digest"], rollback["forensics_captured_at"]) == (
        forensics.digest,
        forensics.captured_at,
    )


def test_it_lists_the_drills_of_rolling_the_release_back(evidence_history):
    h = evidence_history
    answer = answer_one(h.system, "rollback_plan", Params(release="1.1.0"))
    [drill] = answer["drills"]
    assert (drill["id"], drill["environment"], drill["from_release"], drill["to_release"]) == (
        h.drill.pk, "staging", "1.1.0", "1.0.0")  # fmt: skip
    assert (drill["status"], drill["is_drill"]) == ("succeeded", True)
    assert drill["requested_by"]["username"] == "rob"
    assert (drill["requested_at"], drill["finished_at"]) == (at(13, 15), at(13, 15, 2))
    assert drill["minutes_to_finish"] == 2.0


def test_a_release_never_rolled_back_has_no_verdict(evidence_history):
    answer = answer_one(evidence_history.system, "rollback_plan", Params(release="1.2.0"))
    assert answer["plan"]["target_release"] == "1.0.0"  # live in production when written
    assert answer["plan"]["mode"] == "manual"
    assert (answer["rollbacks"], answer["followed"], answer["drills"]) == ([], None, [])
    first = answer_one(evidence_history.system, "rollback_plan", Params(release="1.0.0"))
    assert first["plan"]["target_release"] is None  # nothing was live: the last known good


def test_a_rollback_by_an_oncall_lead_the_plan_does_not_name_still_follows_it(evidence_history):
    """On-call leads may press ROLL BACK NOW whoever the plan names: the answer judges the
    press against who may press (the press checked it), and says who pressed."""
    h = evidence_history
    with time_machine.travel(at(25, 12, 30), tick=False):
        request, _ = incident_services.roll_back_incident(
            actor=h.people["oncall_lead"], incident=h.incidents[1], reason="Bias confirmed"
        )
    with time_machine.travel(at(25, 12, 31), tick=False):
        rollbacks.run_rollback(request_id=request.pk)
    answer = answer_one(h.system, "rollback_plan", Params(release="1.2.0"))
    [rollback] = answer["rollbacks"]
    checks = {c["check"]: (c["ok"], c["detail"]) for c in rollback["checks"]}
    olga = person_label(h.people["oncall_lead"])
    assert checks["owner"] == (
        True,
        f"Requested by {olga}, not named by the plan, but holding the right to roll back on "
        "the system (on-call leads may press too), which the press checked.",
    )
    assert checks["target"][0] and checks["environment"][0]
    assert (rollback["followed"], answer["followed"]) == (True, True)


def test_the_period_answer_covers_live_releases_and_the_drills_run_in_it(evidence_history):
    plan = questions.get_question("rollback_plan")
    assert plan is not None
    answer = plan.answer_period(evidence_history.system, *PERIOD)
    assert [r["release"]["version"] for r in answer["releases"]] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [r["followed"] for r in answer["releases"]] == [None, True, None]
    assert [d["id"] for d in answer["drills"]] == [evidence_history.drill.pk]
    assert plan.answer_period(evidence_history.system, at(20, 0), at(31, 0))["drills"] == []


# --- every question at once, for the pack -----------------------------------------------------


def test_answer_all_answers_every_question_as_json(evidence_history):
    import json

    result = answer_all(system=evidence_history.system, start=PERIOD[0], end=PERIOD[1])
    assert [q["key"] for q in result["questions"]] == [
        "live", "approval", "changes", "monitoring", "rollback_plan"]  # fmt: skip
    assert result["system"]["slug"] == "fraud"
    assert result["period"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    assert json.loads(json.dumps(result)) == result  # JSON values only
    monitoring = next(q for q in result["questions"] if q["key"] == "monitoring")["answer"]
    assert monitoring["rollbacks"][0]["requested_at"] == "2026-10-16T08:20:00Z"


def test_answer_all_refuses_an_inverted_period(evidence_history):
    with pytest.raises(ValidationError):
        answer_all(system=evidence_history.system, start=PERIOD[1], end=PERIOD[0])


# --- input ------------------------------------------------------------------------------------


def test_input_is_parsed_with_dates_covering_whole_days():
    params = parse_params({"start": "2026-10-01", "end": "2026-10-31", "at": "2026-10-15T12:00",
                           "environment": " production ", "release": "1.1.0"})  # fmt: skip
    assert params == Params(environment="production", at=at(15, 12), release="1.1.0",
                            start=at(1, 0), end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-13-45T99:00"}, "at"),
        ({"start": "2026-10-31", "end": "2026-10-01"}, "end"),
        ({"start": "soon"}, "start"),
    ],
)
def test_bad_input_is_refused_by_name(query, field):
    with pytest.raises(ValidationError) as refused:
        parse_params(query)
    assert field in refused.value.message_dict

"""The control mapping file: its structure, that every evidence kind is mapped and every kind
named exists, that a malformed file is refused clearly; and its coverage for a system."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from governance.evidence import controls
from governance.evidence.controls import MappingError, Status, filled_mapping, parse
from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import sources
from governance.models import AuditEvent
from incidents.models import TimelineEntry
from tests.evidence.conftest import PERIOD

RAW = yaml.safe_load(controls.MAPPING_FILE.read_text(encoding="utf-8"))


def ids(framework: str) -> set[str]:
    return {c.id for c in controls.load().controls if c.framework.key == framework}


def test_the_file_has_three_cited_frameworks():
    mapping = controls.load()
    assert mapping.version == 1
    assert [f.key for f in mapping.frameworks] == ["eu_ai_act", "nist_ai_rmf", "iso_42001"]
    for framework in mapping.frameworks:
        assert framework.citation and framework.url.startswith("https://")


def test_every_control_cites_what_it_names_in_a_short_paraphrase():
    for entry in RAW["controls"]:
        assert set(entry) <= {"framework", "id", "title", "requires", "evidence", "note"}
        assert entry["framework"] in RAW["frameworks"]
        assert str(entry["id"]).strip() and entry["title"].strip()
        # A paraphrase in our words, not the regulation pasted at length.
        assert 20 <= len(entry["requires"]) <= 400, entry["id"]


def test_every_evidence_kind_is_mapped_by_at_least_one_control():
    mapped = {kind for entry in RAW["controls"] for kind in entry["evidence"]}
    assert set(EvidenceKind.values) - mapped == set()


def test_every_kind_a_control_names_exists():
    named = {kind for entry in RAW["controls"] for kind in entry["evidence"]}
    assert named - set(EvidenceKind.values) == set()


def test_the_articles_subcategories_and_clauses_the_issue_names_are_there():
    eu = ids("eu_ai_act")
    assert {"Art. 9", "Art. 11", "Art. 12", "Art. 14", "Art. 14(4)(d)", "Art. 14(4)(e)",
            "Art. 15", "Art. 15(4)", "Art. 72", "Art. 73"} <= eu  # fmt: skip
    assert {f"Annex IV({n})" for n in range(1, 10)} <= eu  # the nine headings
    nist = ids("nist_ai_rmf")
    assert {"MANAGE 2.3", "MANAGE 2.4", "MANAGE 4.1", "MANAGE 4.3"} <= nist
    assert {i.split()[0] for i in nist} == {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    assert {"9.1", "10.2", "A.6.2.8"} <= ids("iso_42001")


def test_roll_back_now_evidences_overriding_the_system_and_the_fail_safe_plan_not_a_halt():
    """A rollback reverses (14(4)(d)) and is the fail-safe plan (15(4)); it halts nothing:
    the containment that disables a feature evidences the stop procedure (14(4)(e))."""
    by = {c.id: set(c.evidence) for c in controls.load().controls}
    rollback = {EvidenceKind.ROLLBACK_REQUEST, EvidenceKind.ROLLBACK_DRILL}
    assert rollback <= by["Art. 14(4)(d)"] and rollback <= by["Art. 15(4)"]
    assert by["Art. 14(4)(e)"] == {EvidenceKind.CONTAINMENT_ACTION}
    [deactivate] = [c for c in controls.load().controls if c.id == "MANAGE 2.4"]
    assert EvidenceKind.ROLLBACK_REQUEST in deactivate.evidence


def test_every_evidence_kind_has_an_app_that_counts_it():
    counted = {kind for source in sources() for kind in source.kinds}
    assert counted == set(EvidenceKind)


def broken(**change: object) -> dict:
    data = yaml.safe_load(controls.MAPPING_FILE.read_text(encoding="utf-8"))
    control = dict(data["controls"][0], **change)
    data["controls"][0] = {k: v for k, v in control.items() if v is not ...}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (broken(evidence=["release", "crystal_ball"]), "unknown evidence kind 'crystal_ball'"),
        (broken(framework="gdpr"), "unknown framework 'gdpr'"),
        (broken(requires=...), "missing ['requires']"),
        (broken(requires="  "), "'requires' must be a non-empty string"),
        (broken(evidence="release"), "'evidence' must be a list"),
        (broken(evidence=[]), "names no evidence kind"),
        (broken(evidence=["release", "release"]), "listed twice"),
        (broken(article="9"), "unknown keys ['article']"),
        (broken(id="Art. 11"), "eu_ai_act Art. 11 is listed twice"),
        ({**RAW, "version": 2}, "version 2 is not supported"),
        ({**RAW, "controls": []}, "'controls' must be a non-empty list"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_a_malformed_file_is_refused_with_a_message_naming_the_entry(data, message):
    with pytest.raises(MappingError) as refused:
        parse(data, "controls.yaml")
    assert message in str(refused.value)
    assert str(refused.value).startswith("controls.yaml")


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path):
    path = tmp_path / "controls.yaml"
    path.write_text("controls: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        controls.read(path)


# --- coverage ---------------------------------------------------------------------------------


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}


@pytest.mark.django_db
def test_coverage_counts_the_evidence_held_for_the_period(evidence_history):
    h = evidence_history
    rows = by_id(filled_mapping(system=h.system, start=PERIOD[0], end=PERIOD[1]))
    held = {e["kind"]: e["count"] for row in rows.values() for e in row["evidence"]}
    audit = AuditEvent.objects.filter(
        system=h.system, occurred_at__gte=PERIOD[0], occurred_at__lt=PERIOD[1]
    ).count()
    timeline = TimelineEntry.objects.filter(incident__system=h.system).count()
    assert audit > 0 and timeline > 0
    assert held == {
        "system_record": 1,
        "role_grant": 8,  # the owner and the seven personas of the story
        "release": 3,
        "gate_check": 21,  # seven criteria for each of three releases
        "approval": 6,
        "rollback_plan": 3,
        "deployment": 8,  # four periods in each environment
        "rollout_step": 6,
        "alert": 3,
        "incident": 2,
        "timeline_entry": timeline,
        "containment_action": 0,
        "rollback_request": 1,  # the drill is counted apart
        "rollback_drill": 1,
        "forensic_record": 2,  # kept before the drill and before the rollback
        "serious_incident_report": 0,
        "postmortem": 0,
        "action_item": 0,
        "audit_event": audit,
    }


@pytest.mark.django_db
def test_coverage_says_per_control_what_is_held_and_what_is_missing(evidence_history):
    h = evidence_history
    rows = by_id(filled_mapping(system=h.system, start=PERIOD[0], end=PERIOD[1]))
    interrupt = rows["Art. 14(4)(e)"]
    assert interrupt["status"] == Status.NONE
    assert interrupt["missing"] == ["containment_action"]
    override = rows["Art. 14(4)(d)"]
    assert override["status"] == Status.HELD
    assert {e["kind"]: e["count"] for e in override["evidence"]} == {
        "rollback_request": 1,
        "rollback_drill": 1,
        "rollback_plan": 3,
    }
    assert rows["MANAGE 2.4"]["status"] == Status.HELD
    assert rows["Art. 73"]["missing"] == ["serious_incident_report", "postmortem"]
    assert rows["Annex IV(8)"]["status"] == Status.OUTSIDE
    assert rows["Annex IV(8)"]["note"]
    assert rows["Art. 14(4)(e)"]["framework_name"] == "EU AI Act"
    link = next(e["link"] for e in override["evidence"] if e["kind"] == "rollback_drill")
    assert link == "/systems/fraud/evidence/questions/rollback_plan/"


@pytest.mark.django_db
def test_a_quiet_period_holds_only_the_standing_records(evidence_history):
    h = evidence_history
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    rows = controls.coverage(h.system, start, end)
    summary = controls.summary(rows)
    assert summary[Status.OUTSIDE] == 2
    assert summary[Status.HELD] == sum(
        set(r.control.evidence) <= {EvidenceKind.SYSTEM_RECORD, EvidenceKind.ROLE_GRANT}
        for r in rows
        if r.control.evidence
    )
    inventory = next(r for r in rows if r.control.id == "GOVERN 1.6")
    assert inventory.status == Status.HELD
    monitoring = next(r for r in rows if r.control.id == "Art. 72")
    assert monitoring.status == Status.NONE

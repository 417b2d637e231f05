"""The pack's human-readable report: what the HTML and the PDF both show.

`report_content` turns the pack's facts (counts, the audit chain segment, the auditor's
answers from `questions.answer_all`, the filled control mapping, the charts) into plain
blocks — paragraphs and tables of text — so the two renderings cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from governance.evidence import pack_sections
from governance.evidence.report_charts import svg_bars
from governance.templatetags.failsafe import minutes

if TYPE_CHECKING:
    from governance.evidence.pack import EvidencePack


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    widths: list[float] = field(default_factory=list)  # relative, for the PDF
    is_table = True  # for the template, which cannot ask isinstance


@dataclass
class Block:
    """One question's answer: a title, then lines and tables in reading order."""

    title: str
    summary: str = ""
    items: list[str | Table] = field(default_factory=list)

    def line(self, value: str) -> None:
        self.items.append(value)

    def table(self, value: Table) -> None:
        self.items.append(value)


@dataclass
class ChartData:
    title: str
    unit: str
    note: str
    points: list[tuple[str, float]]


@dataclass
class ReportContent:
    title: str
    facts: list[tuple[str, str]]
    figures: list[tuple[str, str]]  # the key numbers of the period
    contents: Table
    chain: list[tuple[str, str]]
    questions: list[Block]
    charts: list[ChartData]
    controls: Table | None
    generated_at: str
    documents: list[tuple[str, list[Block]]] = field(default_factory=list)  # title, blocks


def when(value: Any) -> str:
    """'2026-11-23 21:55 UTC' from an ISO string (or '—')."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def person(value: Any) -> str:
    if not value:
        return "automation"
    if isinstance(value, dict):
        return str(value.get("name") or value.get("username") or "—")
    return str(value)


def yes(value: Any) -> str:
    return "—" if value is None else ("yes" if value else "no")


def text(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def release_label(release: Any) -> str:
    if not release:
        return "—"
    if isinstance(release, dict):
        return f"{release.get('version', '?')} · {release.get('title', '')}".strip(" ·")
    return str(release)


# --- the questions ------------------------------------------------------------------------


def _live(answer: dict[str, Any], block: Block) -> None:
    for env in answer.get("environments", []):
        rows = [
            [release_label(p.get("release")), when(p.get("started_at")),
             when(p.get("ended_at")) if p.get("ended_at") else "still live", text(p.get("via"))]
            for p in env.get("periods", [])
        ]  # fmt: skip
        caption = env.get("name", env.get("slug", "")) + (
            " — production environment" if env.get("is_production") else ""
        )
        if rows:
            block.table(Table(["Release", "From", "Until", "Via"], rows, caption,
                                      [3, 1.6, 1.6, 0.8]))  # fmt: skip
        else:
            block.line(f"{caption}: no release live during the period.")


def _approval(answer: dict[str, Any], block: Block) -> None:
    for item in answer.get("releases", []):
        gate = item.get("gate") or {}
        evaluation = item.get("evaluation") or {}
        block.line(
            f"{release_label(item.get('release'))}: submitted {when(item.get('submitted_at'))} "
            f"by {person(item.get('author'))}, decided {when(item.get('decided_at'))}. "
            f"Gate {'passed' if gate.get('passed') else 'NOT passed'}; approvals "
            f"{gate.get('approvals_given', '?')} of {gate.get('approvals_required', '?')} required."
            + (f" Evaluation report {evaluation.get('version')} ({evaluation.get('uri')})."
               if evaluation else "")
        )  # fmt: skip
        approvals = [
            [person(a.get("approver")), text(a.get("decision_label") or a.get("decision")),
             when(a.get("decided_at")), text(a.get("comment")), yes(a.get("digest_matches"))]
            for a in item.get("approvals", [])
        ]  # fmt: skip
        if approvals:
            block.table(
                Table(["Approver", "Decision", "When", "Comment", "Digest matches"], approvals,
                      f"Approvals of {release_label(item.get('release'))}", [1.3, 1, 1.4, 2.6, 0.9])
            )  # fmt: skip
        criteria = []
        for criterion in gate.get("criteria", []):
            check = criterion.get("check") or {}
            measured = check.get("measured_value")
            target = check.get("target")
            sign = check.get("comparison_label") or check.get("comparison", "")
            value = (
                f"{text(measured)} {sign} {text(target)} {check.get('unit', '')}"
                if measured is not None or target is not None
                else text(sign)
            )
            criteria.append([
                text(criterion.get("label") or criterion.get("criterion")),
                yes(criterion.get("required")), yes(criterion.get("passed")), value.strip(),
                person(check.get("recorded_by")) if check else "—",
            ])  # fmt: skip
        if criteria:
            block.table(
                Table(["Criterion", "Required", "Passed", "Measured", "Checked by"], criteria,
                      f"Gate of {release_label(item.get('release'))}", [2.8, 0.8, 0.7, 1.6, 1.3])
            )  # fmt: skip
    if not answer.get("releases"):
        block.line("No release was live or decided during the period.")


def _changes(answer: dict[str, Any], block: Block) -> None:
    for item in answer.get("releases", []):
        base = item.get("base")
        rows = [
            [text(c.get("label") or c.get("kind")),
             text((c.get("before") or {}).get("version")),
             text((c.get("after") or {}).get("version"))]
            for c in item.get("components", []) if c.get("changed")
        ] + [
            [text(c.get("label") or c.get("field")), text(c.get("before")), text(c.get("after"))]
            for c in item.get("card", []) if c.get("changed")
        ]  # fmt: skip
        categories = ", ".join(
            c.get("label", c.get("value", "")) for c in item.get("change_categories", [])
        )
        block.line(
            f"{release_label(item.get('release'))} against "
            f"{release_label(base) if base else 'nothing before it'}"
            + (f" — change categories: {categories}" if categories else "")
            + ("" if rows else " — no component or model-card field changed.")
        )
        if rows:
            block.table(Table(["What", "Before", "After"], rows,
                                      f"Changed in {release_label(item.get('release'))}",
                                      [1.4, 2.6, 2.6]))  # fmt: skip
    if not answer.get("releases"):
        block.line("No release went live during the period.")


def _monitoring(answer: dict[str, Any], block: Block) -> None:
    s = answer.get("summary") or {}
    median = s.get("median_minutes_to_rollback")
    block.line(
        f"Alerts received: {s.get('alerts', 0)} ({s.get('alerts_firing', 0)} firing). "
        f"Incidents: {s.get('incidents', 0)} ({s.get('incidents_open', 0)} still open, "
        f"{s.get('serious_incidents', 0)} serious). Rollbacks: {s.get('rollbacks', 0)} "
        f"({s.get('rollbacks_succeeded', 0)} verified, {s.get('rollbacks_failed', 0)} failed)"
        + (f"; median time to rollback {minutes(median)}." if median is not None else ".")
    )
    incidents = [
        [f"INC-{i.get('id')}", text(i.get("title")),
         text(i.get("severity_label") or i.get("severity")),
         when(i.get("detected_at")), when(i.get("rolled_back_at")), when(i.get("closed_at")),
         text(i.get("stage_label") or i.get("stage"))]
        for i in answer.get("incidents", [])
    ]  # fmt: skip
    if incidents:
        block.table(Table(
            ["Incident", "Title", "Severity", "Detected", "Rolled back", "Closed", "Stage"],
            incidents, "Incidents", [0.8, 2.2, 1.1, 1.3, 1.3, 1.3, 1]))  # fmt: skip
    rollbacks = [
        [str(r.get("id")), text(r.get("environment")),
         f"{text(r.get('from_release'))} → {text(r.get('to_release'))}",
         text(r.get("status_label") or r.get("status")),
         "plan trigger" if r.get("automatic") else person(r.get("requested_by")),
         when(r.get("requested_at")), text(r.get("minutes_to_finish"))]
        for r in answer.get("rollbacks", [])
    ]  # fmt: skip
    if rollbacks:
        block.table(Table(
            ["Rollback", "Environment", "Releases", "Outcome", "Asked by", "Requested", "Minutes"],
            rollbacks, "Rollbacks", [0.7, 1, 1.4, 0.9, 1.1, 1.4, 0.7]))  # fmt: skip


def _rollback_plan(answer: dict[str, Any], block: Block) -> None:
    for item in answer.get("releases", []):
        plan = item.get("plan")
        label = release_label(item.get("release"))
        if not plan:
            block.line(f"{label}: no rollback plan.")
            continue
        triggers = "; ".join(
            t.get("text")
            or f"{t.get('metric')} {t.get('comparison')} {t.get('threshold')} for "
            f"{t.get('window_minutes')} min"
            for t in plan.get("triggers", [])
        )
        environment = plan.get("environment")
        where = environment.get("name") if isinstance(environment, dict) else environment
        owners = ", ".join(person(o) for o in plan.get("owners", []))
        target = plan.get("target_release") or plan.get("target")
        followed = item.get("followed")
        block.line(
            f"{label}: in {text(where)}, mode {text(plan.get('mode_label') or plan.get('mode'))}, "
            f"target {release_label(target)}, owners {owners or '—'}, "
            f"triggers {triggers or 'none'}. "
            + ("Never rolled back." if followed is None
               else "Every rollback followed the plan." if followed
               else "A rollback did NOT follow the plan.")
        )  # fmt: skip
        for rollback in item.get("rollbacks", []):
            failed = [c for c in rollback.get("checks", []) if not c.get("ok")]
            if failed:
                block.line(
                    f"Rollback {rollback.get('id')}: "
                    + "; ".join(f"{c.get('check')}: {c.get('detail')}" for c in failed)
                )
    drills = [
        [str(d.get("id")), text(d.get("environment")),
         f"{text(d.get('from_release'))} → {text(d.get('to_release'))}",
         text(d.get("status_label") or d.get("status")), person(d.get("requested_by")),
         when(d.get("requested_at")), text(d.get("reason"))]
        for d in answer.get("drills", [])
    ]  # fmt: skip
    if drills:
        block.table(Table(
            ["Drill", "Environment", "Releases", "Outcome", "Run by", "When", "Reason"], drills,
            "Rollback drills", [0.6, 1, 1.2, 0.9, 1.1, 1.4, 1.8]))  # fmt: skip
    else:
        block.line("No rollback drill was run during the period.")


RENDERERS = {
    "live": _live,
    "approval": _approval,
    "changes": _changes,
    "monitoring": _monitoring,
    "rollback_plan": _rollback_plan,
}


def question_blocks(answers: dict[str, Any]) -> list[Block]:
    blocks = []
    for question in answers.get("questions", []):
        block = Block(title=question.get("title", ""), summary=question.get("summary", ""))
        renderer = RENDERERS.get(question.get("key", ""))
        answer = question.get("answer") or {}
        if renderer is not None and isinstance(answer, dict):
            renderer(answer, block)
        blocks.append(block)
    return blocks


# --- the rest of the report ---------------------------------------------------------------


def _controls(mapping: list[dict[str, Any]]) -> Table | None:
    """Per control: how well the pack evidences it, what it holds and what is missing."""
    if not mapping:
        return None
    rows = []
    for control in mapping:
        evidence = control.get("evidence") or []
        labels = {e.get("kind"): e.get("label", e.get("kind")) for e in evidence}
        held = ", ".join(f"{e.get('label')} ({e.get('count')})" for e in evidence if e.get("count"))
        missing = ", ".join(str(labels.get(kind, kind)) for kind in control.get("missing") or [])
        rows.append([
            f"{text(control.get('framework_name') or control.get('framework'))} "
            f"{text(control.get('id'))}",
            text(control.get("title")),
            text(control.get("status_label") or control.get("status")),
            held or text(control.get("note")),
            missing or "—",
        ])  # fmt: skip
    return Table(["Control", "Title", "Status", "Evidence held", "Missing"], rows,
                 widths=[1.3, 1.6, 0.9, 2.4, 1.6])  # fmt: skip


FIGURES = [
    ("releases", "Releases"), ("approvals", "Approval decisions"), ("deployments", "Deployments"),
    ("alerts", "Alerts received"), ("incidents", "Incidents"),
    ("serious_incident_reports", "Serious incidents"), ("rollbacks", "Rollbacks"),
    ("rollback_drills", "Rollback drills"), ("action_items", "Action items"),
    ("audit_events", "Audit events"),
]  # fmt: skip


def report_content(pack: EvidencePack) -> ReportContent:
    segment = pack.segment
    assert segment is not None
    counts = pack.counts()
    sections = {s.name: s for s in pack_sections.sections()}
    contents = Table(
        ["File", "Records", "What it holds"],
        [
            [f"{name}.json / .csv", str(counts.get(name, 0)), sections[name].description]
            for name in sections
        ]
        + [["audit_events.jsonl", str(segment.events),
            "The audit events of the period, hash-chained, one JSON object per line."]]
        + [[f"{d.name}.json", "—", d.description] for d in pack_sections.documents()],
        widths=[1.8, 0.7, 4.5],
    )  # fmt: skip
    chain = [
        ("Chain", segment.chain),
        ("Events in the pack", str(segment.events)),
        (
            "Sequence numbers",
            f"{segment.first_seq} to {segment.last_seq}" if segment.events else "—",
        ),
        ("Linked to (previous hash)", text(segment.anchor_hash)),
        ("First event hash", text(segment.first_hash)),
        ("Last event hash", text(segment.last_hash)),
        ("Chain head at export", f"seq {segment.head_seq}, {segment.head_hash}"),
    ]
    system = pack.system
    facts = [
        ("AI system", f"{system.name} ({system.slug})"),
        ("Intended purpose", system.intended_purpose),
        ("EU AI Act risk category", system.get_risk_category_display()),
        ("Period", f"{pack.period.label} (UTC, both days included)"),
        ("Exported by", pack.exported_by),
        ("Generated", when(pack.generated_at)),
    ]
    figures = [(label, str(counts.get(name, 0))) for name, label in FIGURES if name in counts]
    charts = [
        ChartData(c.title, c.unit, c.note, c.points(system, pack.period))
        for c in pack_sections.charts()
    ]
    return ReportContent(
        title=f"Evidence pack: {system.name}",
        facts=facts,
        figures=figures,
        contents=contents,
        chain=chain,
        questions=question_blocks(pack.answers),
        charts=charts,
        controls=_controls(pack.mapping),
        generated_at=when(pack.generated_at),
        documents=[
            (document.title, document.blocks(pack.documents[document.name]))
            for document in pack_sections.documents()
            if document.name in pack.documents
        ],
    )


def render_html(pack: EvidencePack) -> bytes:
    content = pack.report if pack.report is not None else report_content(pack)
    pack.report = content
    charts = [
        (chart, svg_bars(chart.points, unit=chart.unit, title=chart.title))
        for chart in content.charts
    ]
    html = render_to_string(
        "governance/evidence/report.html", {"report": content, "charts": charts, "pack": pack}
    )
    return html.encode()


def render_pdf(pack: EvidencePack) -> bytes:
    from governance.evidence.report_pdf import pdf_document

    content = pack.report if pack.report is not None else report_content(pack)
    return pdf_document(content, subtitle=f"{pack.system.slug} · {pack.period.label}")

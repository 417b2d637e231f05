"""The pack's human-readable report: what the HTML and the PDF both show.

`report_content` turns the pack's facts (counts, the audit chain segment, the auditor's
answers from `questions.answer_all`, the filled control mapping, the charts) into plain
blocks — paragraphs and tables of text — so the two renderings cannot disagree. Each
question's part is written by the app that answers it (`Question.report`); the helpers
below (`when`, `person`, `text` …) are theirs to use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from governance.evidence import questions as registry
from governance.evidence.pack import sections as pack_sections
from governance.evidence.report_charts import svg_bars

if TYPE_CHECKING:
    from governance.evidence.pack.archive import EvidencePack


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


def question_blocks(answers: dict[str, Any]) -> list[Block]:
    """One block per question answered: its title and summary, then what the app that answers
    it writes there (`Question.report`, found through the registry)."""
    blocks = []
    for question in answers.get("questions", []):
        block = Block(title=question.get("title", ""), summary=question.get("summary", ""))
        registered = registry.get_question(question.get("key", ""))
        renderer = registered.report if registered is not None else None
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

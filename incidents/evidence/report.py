"""The monitoring answer in the evidence pack's report: the period's figures, then its
incidents and rollbacks as tables of text, which the HTML and the PDF both show.

It reads the answer as JSON (times as ISO strings), the way `questions.answer_all` gives it
to the pack, and fills the question's `governance.evidence.report.Block`.
"""

from __future__ import annotations

from typing import Any

from governance.evidence.report import Block, Table, person, text, when
from governance.templatetags.failsafe import minutes


def report_monitoring(answer: dict[str, Any], block: Block) -> None:
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

"""The releases' answers in the evidence pack's report: each question's lines and tables of
text, which the HTML and the PDF both show. Each function is its `Question.report`.

They read the answers as JSON (times as ISO strings), the way `questions.answer_all` gives
them to the pack, and fill one `governance.evidence.report.Block` per question.
"""

from __future__ import annotations

from typing import Any

from governance.evidence.report import Block, Table, person, release_label, text, when, yes


def report_live(answer: dict[str, Any], block: Block) -> None:
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


def report_approval(answer: dict[str, Any], block: Block) -> None:
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


def report_changes(answer: dict[str, Any], block: Block) -> None:
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


def report_rollback_plan(answer: dict[str, Any], block: Block) -> None:
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

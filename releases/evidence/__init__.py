"""What releases contribute to the auditor's questions: what was live where and when, how it
was approved, what changed, and the rollback plan in force and whether it was followed.

`register()`, called from ReleasesConfig.ready(), registers with `governance.evidence` each
question (its answers, page template and part of the report), the pickers, what evidence
releases hold, and the evidence pack's sections. Every answer is a plain dict (see
`governance.evidence.questions.answer_all` for the shapes) read in a fixed number of
queries, whatever the number of releases, checks, approvals or deployments.
"""

from __future__ import annotations

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import ENVIRONMENT_AT, RELEASE
from releases.evidence import approval, changes, live, pack, report, rollback_plan, sources


def register() -> None:
    """Called from ReleasesConfig.ready(): the questions, the pickers, the evidence source, then
    the pack's sections."""
    registry.register(
        registry.Question(
            key="live",
            short="Live at a time",
            title="Which release was live in an environment at a given time?",
            summary="The whole decision stack in force — model, threshold policy and every "
            "other component, with their digests — from the deployment history.",
            order=10,
            inputs=(ENVIRONMENT_AT,),
            answer=live.answer_live,
            answer_period=live.answer_live_period,
            template="releases/evidence/_answer_live.html",
            report=report.report_live,
            kinds=(EvidenceKind.DEPLOYMENT, EvidenceKind.RELEASE),
        )
    )
    registry.register(
        registry.Question(
            key="approval",
            short="Approval",
            title="Which evaluation and gate checks approved it, and who approved it?",
            summary="The evaluation report, every gate criterion with its measurement and "
            "evidence, and each approver's decision, time and comment.",
            order=20,
            inputs=(RELEASE,),
            answer=approval.answer_approval,
            answer_period=approval.answer_approval_period,
            template="releases/evidence/_answer_approval.html",
            report=report.report_approval,
            kinds=(EvidenceKind.GATE_CHECK, EvidenceKind.APPROVAL, EvidenceKind.RELEASE),
        )
    )
    registry.register(
        registry.Question(
            key="changes",
            short="Changes",
            title="What changed since the previous version?",
            summary="Component by component and model-card field by field, against the "
            "release it replaced (else the version registered before it).",
            order=30,
            inputs=(RELEASE,),
            answer=changes.answer_changes,
            answer_period=changes.answer_changes_period,
            template="releases/evidence/_answer_changes.html",
            report=report.report_changes,
            kinds=(EvidenceKind.RELEASE,),
        )
    )
    registry.register(
        registry.Question(
            key="rollback_plan",
            short="Rollback plan",
            title="What was the rollback plan in force, and was it followed?",
            summary="The plan's target, owners, triggers and mode; each rollback checked "
            "against it; and the rollback drills run, with their outcome.",
            order=50,
            inputs=(RELEASE,),
            answer=rollback_plan.answer_rollback_plan,
            answer_period=rollback_plan.answer_rollback_plan_period,
            template="releases/evidence/_answer_rollback_plan.html",
            report=report.report_rollback_plan,
            kinds=(
                EvidenceKind.ROLLBACK_PLAN,
                EvidenceKind.ROLLBACK_REQUEST,
                EvidenceKind.ROLLBACK_DRILL,
            ),
        )
    )
    registry.register_picker("environment", sources.environment_choices)
    registry.register_picker("release", sources.release_choices)
    registry.register_source(
        registry.EvidenceSource(
            name="releases",
            kinds=(
                EvidenceKind.RELEASE,
                EvidenceKind.GATE_CHECK,
                EvidenceKind.APPROVAL,
                EvidenceKind.ROLLBACK_PLAN,
                EvidenceKind.DEPLOYMENT,
                EvidenceKind.ROLLOUT_STEP,
                EvidenceKind.ROLLBACK_REQUEST,
                EvidenceKind.ROLLBACK_DRILL,
                EvidenceKind.FORENSIC_RECORD,
            ),
            count=sources.evidence_counts,
            links=sources.evidence_links,
        )
    )
    pack.register()

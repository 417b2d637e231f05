"""Which evaluation and gate checks approved a release, and who approved it? The gate as it
stood at the decision, each criterion with its measurement and evidence, and every approval.

Read from prefetched checks and approvals, in a fixed number of queries whatever the number
of releases. See `governance.evidence.questions.answer_all` for the answer's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from governance.evidence.questions import Params
from releases.evidence.shared import (
    Answer,
    component,
    find_release,
    person,
    release_ref,
    releases_in_period,
)
from releases.gate_policy import latest_checks, policy_for
from releases.models import Approval, Decision, GateCheck, GateCriterion, GatePolicy, Release

if TYPE_CHECKING:
    from governance.models import AISystem


def _approval_queryset() -> QuerySet[Release]:
    return Release.objects.select_related("author").prefetch_related(
        "components",
        Prefetch("gate_checks", queryset=GateCheck.objects.select_related("recorded_by")),
        Prefetch("approvals", queryset=Approval.objects.select_related("approver")),
    )


def _check(check: GateCheck | None) -> Answer | None:
    if check is None:
        return None
    return {
        "comparison": check.comparison,
        "comparison_label": check.get_comparison_display(),
        "measured_value": check.measured_value,
        "target": check.target,
        "unit": check.unit,
        "passed": check.passed,
        "evidence_uri": check.evidence_uri,
        "note": check.note,
        "recorded_by": person(check.recorded_by),
        "recorded_at": check.recorded_at,
        # A rollback drill's check proves the path for a while only.
        "drill": getattr(check, "drill_id", None),
        "valid_until": getattr(check, "valid_until", None),
    }


def _in_force(check: GateCheck, at: datetime) -> bool:
    valid_until = getattr(check, "valid_until", None)
    return check.passed and (valid_until is None or valid_until > at)


def _approval(release: Release, policy: GatePolicy) -> Answer:
    """From the release's prefetched checks and approvals: no query.

    The gate is read as it stood when the release was decided (else now): the checks
    recorded by then, a drill's check counting only while it was valid. It is read against
    the system's policy today (a policy keeps no history; the audit trail has its changes).
    """
    as_of = release.decided_at or timezone.now()
    checks = [c for c in release.gate_checks.all() if c.recorded_at <= as_of]
    latest = latest_checks(checks)
    required = set(policy.required_criteria)
    criteria = [
        {
            "criterion": criterion.value,
            "label": criterion.label,
            "required": criterion.value in required,
            "passed": latest.get(criterion.value) is not None
            and _in_force(latest[criterion.value], as_of),
            "check": _check(latest.get(criterion.value)),
        }
        for criterion in GateCriterion
    ]
    approvals = list(release.approvals.all())
    stack = {c.kind: c for c in release.components.all()}
    given = sum(
        a.decision == Decision.APPROVE
        and a.release_digest == release.content_digest
        and getattr(a, "cites_rollback_id", None) is None
        for a in approvals
    )
    return {
        "release": release_ref(release),
        "author": person(release.author),
        "submitted_at": release.submitted_at,
        "decided_at": release.decided_at,
        "evaluation": component(stack.get("evaluation")),
        "gate": {
            "as_of": as_of,
            "passed": all(c["passed"] for c in criteria if c["required"]),
            "approvals_required": policy.approvals_required,
            "approvals_given": given,
            "criteria": criteria,
        },
        "approvals": [
            {
                "approver": person(a.approver),
                "decision": a.decision,
                "decision_label": a.get_decision_display(),
                "comment": a.comment,
                "decided_at": a.decided_at,
                "release_digest": a.release_digest,
                "digest_matches": a.release_digest == release.content_digest,
                # A rolled-back release's return: approvals citing the rollback behind it.
                "cites_rollback": getattr(a, "cites_rollback_id", None),
            }
            for a in approvals
        ],
    }


def answer_approval(system: AISystem, params: Params) -> Answer:
    release = find_release(system, params.release, _approval_queryset())
    if release is None:
        return {"release": None}
    return _approval(release, policy_for(system))


def answer_approval_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    policy = policy_for(system)
    releases = _approval_queryset().filter(pk__in=releases_in_period(system, start, end))
    return {"releases": [_approval(r, policy) for r in releases.order_by("created_at", "id")]}

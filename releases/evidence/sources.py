"""The pickers a question page offers (environments, releases) and the evidence releases
hold for a period: counted in one query for the control mapping's coverage, with the page
where a person can look at each kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.urls import reverse

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import Choice
from releases.evidence.shared import overlapping, releases_in_period
from releases.models import (
    Approval,
    Deployment,
    Environment,
    ForensicRecord,
    GateCheck,
    Release,
    ReleaseStatus,
    RollbackPlan,
    RollbackRequest,
    RollbackStatus,
    RolloutStep,
)

if TYPE_CHECKING:
    from governance.models import AISystem


def environment_choices(system: AISystem) -> list[Choice]:
    return [
        Choice(e.slug, e.name, "production" if e.is_production else "")
        for e in Environment.objects.filter(system=system)
    ]


def release_choices(system: AISystem) -> list[Choice]:
    releases = Release.objects.filter(system=system).order_by("-created_at", "-id")
    return [
        Choice(r.version, f"{r.version} · {r.title}", ReleaseStatus(r.status).label)
        for r in releases.only("version", "title", "status")
    ]


def evidence_counts(system: AISystem, start: datetime, end: datetime) -> dict[EvidenceKind, int]:
    """What this app holds for the period, in one query."""
    releases = releases_in_period(system, start, end).values("pk")
    rollbacks = RollbackRequest.objects.filter(
        environment__system=system, requested_at__gte=start, requested_at__lt=end
    )
    return registry.count_all(
        {
            EvidenceKind.RELEASE: Release.objects.filter(pk__in=releases),
            EvidenceKind.GATE_CHECK: GateCheck.objects.filter(release__in=releases),
            EvidenceKind.APPROVAL: Approval.objects.filter(release__in=releases),
            EvidenceKind.ROLLBACK_PLAN: RollbackPlan.objects.filter(release__in=releases),
            EvidenceKind.DEPLOYMENT: Deployment.objects.filter(
                overlapping(start, end), environment__system=system
            ),
            EvidenceKind.ROLLOUT_STEP: RolloutStep.objects.filter(
                environment__system=system, requested_at__gte=start, requested_at__lt=end
            ),
            EvidenceKind.ROLLBACK_REQUEST: rollbacks.filter(is_drill=False).exclude(
                status=RollbackStatus.DISMISSED
            ),
            EvidenceKind.ROLLBACK_DRILL: rollbacks.filter(is_drill=True),
            EvidenceKind.FORENSIC_RECORD: ForensicRecord.objects.filter(
                request__environment__system=system,
                captured_at__gte=start,
                captured_at__lt=end,
            ),
        }
    )


def evidence_links(system: AISystem) -> dict[EvidenceKind, str]:
    releases = reverse("releases:release-list") + f"?system={system.slug}"
    environments = reverse("releases:system-environments", args=[system.slug])
    questions = "governance:evidence-question"
    return {
        EvidenceKind.RELEASE: releases,
        EvidenceKind.GATE_CHECK: reverse(questions, args=[system.slug, "approval"]),
        EvidenceKind.APPROVAL: reverse(questions, args=[system.slug, "approval"]),
        EvidenceKind.ROLLBACK_PLAN: reverse(questions, args=[system.slug, "rollback_plan"]),
        EvidenceKind.DEPLOYMENT: reverse(questions, args=[system.slug, "live"]),
        EvidenceKind.ROLLOUT_STEP: releases,
        EvidenceKind.ROLLBACK_REQUEST: environments,
        EvidenceKind.ROLLBACK_DRILL: reverse(questions, args=[system.slug, "rollback_plan"]),
        EvidenceKind.FORENSIC_RECORD: environments,
    }

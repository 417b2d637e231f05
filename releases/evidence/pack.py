"""What releases contribute to an evidence pack: the decision stacks, their gates, approvals,
rollback plans, rollouts, deployments and rollbacks of a system in a period.

Registered with governance from ReleasesConfig.ready(). Rows are read with
`.iterator(chunk_size=…)` (server-side cursors), so a section never sits whole in memory.
Environments appear by slug only: their backend configuration and secrets are never exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, Q, QuerySet

from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack.sections import Section, register_section, username_of
from releases.evidence.shared import ROLLBACK_FIELDS, rollback_record, rollbacks_queryset
from releases.models import (
    MODEL_CARD_FIELDS,
    Approval,
    Deployment,
    ForensicRecord,
    GateCheck,
    Release,
    ReleaseComponent,
    RollbackPlan,
    RolloutStep,
)

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem

CHUNK = 500


def releases_in(system: AISystem, period: PackPeriod) -> QuerySet[Release]:
    """Releases that existed in the period and were not settled before it began: created,
    in review, decided or live during it."""
    live = Deployment.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=period.since),
        environment__system=system,
        started_at__lt=period.until,
    )
    return Release.objects.filter(
        Q(decided_at__isnull=True)
        | Q(decided_at__gte=period.since)
        | Q(pk__in=live.values("release")),
        system=system,
        created_at__lt=period.until,
    )


def _release_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    releases = (
        releases_in(system, period)
        .select_related("author")
        .prefetch_related(Prefetch("components", queryset=ReleaseComponent.objects.order_by("id")))
        .order_by("created_at", "id")
    )
    for release in releases.iterator(chunk_size=CHUNK):
        yield {
            "id": release.pk,
            "version": release.version,
            "title": release.title,
            "status": release.status,
            "author": username_of(release.author),
            "created_at": release.created_at,
            "submitted_at": release.submitted_at,
            "decided_at": release.decided_at,
            "change_categories": list(release.change_categories),
            "content_digest": release.content_digest,
            "decision_stack": [
                {"kind": c.kind, "version": c.version, "uri": c.uri, "sha256": c.digest}
                for c in release.components.all()
            ],
            "model_card": {name: getattr(release, name) for name in MODEL_CARD_FIELDS},
        }


def _gate_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    checks = (
        GateCheck.objects.filter(release__in=releases_in(system, period))
        .select_related("release", "recorded_by")
        .order_by("release__created_at", "release_id", "recorded_at", "id")
    )
    for check in checks.iterator(chunk_size=CHUNK):
        yield {
            "id": check.pk,
            "release_id": check.release_id,
            "release_version": check.release.version,
            "criterion": check.criterion,
            "comparison": check.comparison,
            "measured_value": check.measured_value,
            "target": check.target,
            "unit": check.unit,
            "passed": check.passed,
            "evidence_uri": check.evidence_uri,
            "note": check.note,
            "recorded_by": username_of(check.recorded_by),
            "recorded_at": check.recorded_at,
        }


def _approval_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    approvals = (
        Approval.objects.filter(release__in=releases_in(system, period))
        .select_related("release", "approver")
        .order_by("decided_at", "id")
    )
    for approval in approvals.iterator(chunk_size=CHUNK):
        yield {
            "id": approval.pk,
            "release_id": approval.release_id,
            "release_version": approval.release.version,
            "approver": username_of(approval.approver),
            "decision": approval.decision,
            "comment": approval.comment,
            "release_digest": approval.release_digest,
            "decided_at": approval.decided_at,
        }


def _plan_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    plans = (
        RollbackPlan.objects.filter(release__in=releases_in(system, period))
        .select_related("release", "environment", "target_release", "written_by")
        .prefetch_related("owners", "triggers")
        .order_by("release__created_at", "id")
    )
    for plan in plans.iterator(chunk_size=CHUNK):
        yield {
            "id": plan.pk,
            "release_id": plan.release_id,
            "release_version": plan.release.version,
            "environment": plan.environment.slug,
            "target_version": plan.target_release.version if plan.target_release else None,
            "mode": plan.mode,
            "cooldown_minutes": plan.cooldown_minutes,
            "owners": sorted(owner.get_username() for owner in plan.owners.all()),
            "triggers": [
                {
                    "metric": t.metric,
                    "comparison": t.comparison,
                    "threshold": t.threshold,
                    "window_minutes": t.window_minutes,
                }
                for t in plan.triggers.all()
            ],
            "written_by": username_of(plan.written_by),
            "updated_at": plan.updated_at,
        }


def _deployment_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    deployments = (
        Deployment.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gte=period.since),
            environment__system=system,
            started_at__lt=period.until,
        )
        .select_related("environment", "release")
        .order_by("started_at", "id")
    )
    for deployment in deployments.iterator(chunk_size=CHUNK):
        yield {
            "id": deployment.pk,
            "environment": deployment.environment.slug,
            "release_id": deployment.release_id,
            "release_version": deployment.release.version,
            "started_at": deployment.started_at,
            "ended_at": deployment.ended_at,
            "via": deployment.via,
            "rollout_step_id": deployment.step_id,
        }


def _step_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    steps = (
        RolloutStep.objects.filter(
            release__system=system,
            requested_at__gte=period.since,
            requested_at__lt=period.until,
        )
        .select_related("release", "environment", "requested_by")
        .order_by("requested_at", "id")
    )
    # The backend's raw answer stays out: it is the platform's, and may echo its configuration.
    for step in steps.iterator(chunk_size=CHUNK):
        yield {
            "id": step.pk,
            "release_id": step.release_id,
            "release_version": step.release.version,
            "environment": step.environment.slug,
            "action": step.action,  # promote, or a pause, resume or abort of the rollout
            "stage": step.stage,
            "traffic_percent": step.traffic_percent,
            "reason": step.reason,  # why a stage or soak was skipped, or the rollout aborted
            "waived": step.waived,  # the gate's refusals a release manager's reason waived
            "status": step.status,
            "requested_by": username_of(step.requested_by),
            "requested_at": step.requested_at,
            "applied_at": step.applied_at,
            "error": step.error,
            "idempotency_key": step.idempotency_key,
        }


def _rollbacks(system: AISystem, period: PackPeriod, *, drills: bool) -> Iterator[dict[str, Any]]:
    requests = rollbacks_queryset().filter(
        environment__system=system,
        is_drill=drills,
        requested_at__gte=period.since,
        requested_at__lt=period.until,
    )
    for request in requests.iterator(chunk_size=CHUNK):
        yield rollback_record(request)


def _rollback_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    return _rollbacks(system, period, drills=False)


def _drill_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    return _rollbacks(system, period, drills=True)


def _forensic_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    records = (
        ForensicRecord.objects.filter(
            request__environment__system=system,
            request__requested_at__gte=period.since,
            request__requested_at__lt=period.until,
        )
        .select_related("request")
        .order_by("captured_at", "id")
    )
    for record in records.iterator(chunk_size=CHUNK):
        yield {
            "id": record.pk,
            "rollback_id": record.request_id,
            "is_drill": record.request.is_drill,
            "captured_at": record.captured_at,
            "sha256": record.digest,
            "backend_state": record.backend_state,
            "context": record.context,
        }


SECTIONS = [
    Section(
        "releases", EvidenceKind.RELEASE, "Releases", order=10, rows=_release_rows,
        description="Releases created, in review, decided or live during the period, with "
        "their decision stack (each component's URI and sha256) and model card.",
        columns=("id", "version", "title", "status", "author", "created_at", "submitted_at",
                 "decided_at", "change_categories", "content_digest", "decision_stack",
                 "model_card"),
    ),
    Section(
        "gate_checks", EvidenceKind.GATE_CHECK, "Release gate checks", order=11, rows=_gate_rows,
        description="Every gate check recorded on those releases.",
        columns=("id", "release_id", "release_version", "criterion", "comparison",
                 "measured_value", "target", "unit", "passed", "evidence_uri", "note",
                 "recorded_by", "recorded_at"),
    ),
    Section(
        "approvals", EvidenceKind.APPROVAL, "Approvals", order=12, rows=_approval_rows,
        description="Every decision on those releases, with the content digest it approved.",
        columns=("id", "release_id", "release_version", "approver", "decision", "comment",
                 "release_digest", "decided_at"),
    ),
    Section(
        "rollback_plans", EvidenceKind.ROLLBACK_PLAN, "Rollback plans", order=13,
        rows=_plan_rows,
        description="The rollback plan of each of those releases: target, owners, triggers.",
        columns=("id", "release_id", "release_version", "environment", "target_version", "mode",
                 "cooldown_minutes", "owners", "triggers", "written_by", "updated_at"),
    ),
    Section(
        "deployments", EvidenceKind.DEPLOYMENT, "Deployments", order=14, rows=_deployment_rows,
        description="Which release was live in which environment, for periods that overlap.",
        columns=("id", "environment", "release_id", "release_version", "started_at", "ended_at",
                 "via", "rollout_step_id"),
    ),
    Section(
        "rollout_steps", EvidenceKind.ROLLOUT_STEP, "Rollout steps", order=15, rows=_step_rows,
        description="Staged rollout steps requested during the period: promotions (with any "
        "stage or soak skipped, and why) and pauses, resumes and aborts.",
        columns=("id", "release_id", "release_version", "environment", "action", "stage",
                 "traffic_percent", "reason", "waived", "status", "requested_by",
                 "requested_at", "applied_at", "error", "idempotency_key"),
    ),
    Section(
        "rollbacks", EvidenceKind.ROLLBACK_REQUEST, "Rollbacks", order=40, rows=_rollback_rows,
        description="Rollbacks requested or proposed during the period, and how they ended.",
        columns=ROLLBACK_FIELDS,
    ),
    Section(
        "forensic_records", EvidenceKind.FORENSIC_RECORD, "Forensic records", order=41,
        rows=_forensic_rows,
        description="What each rollback (or drill) was about to replace, captured before it.",
        columns=("id", "rollback_id", "is_drill", "captured_at", "sha256", "backend_state",
                 "context"),
    ),
    Section(
        "rollback_drills", EvidenceKind.ROLLBACK_DRILL, "Rollback drills", order=42,
        rows=_drill_rows,
        description="Rollback drills run during the period.",
        columns=ROLLBACK_FIELDS,
    ),
]  # fmt: skip


def register() -> None:
    for section in SECTIONS:
        register_section(section)

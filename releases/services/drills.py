"""Rollback drills as gate evidence: the "rollback path ready" criterion is met by a drill.

A drill runs the real rollback (same task, same backend) against a non-production
environment. When it finishes, every release of the system still awaiting its decision gets
a gate check of the outcome; a passed drill counts for ROLLBACK_DRILL_DAYS, then the check
expires and the criterion is open again. A release registered while a drill is fresh gets
that drill's check at once.

Before any non-production environment of the system has had two releases live, no drill is
possible (there is nothing to roll back to): until then the criterion is attested by hand.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from governance import audit
from governance.models import AISystem
from releases.models import (
    Comparison,
    Deployment,
    GateCheck,
    GateCriterion,
    Release,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)

AWAITING_DECISION = (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW)


def drill_possible(system: AISystem) -> bool:
    """Whether some non-production environment has had two releases live: a drill there
    has something to roll back to."""
    return (
        Deployment.objects.filter(environment__system=system, environment__is_production=False)
        .values("environment")
        .annotate(releases=Count("release", distinct=True))
        .filter(releases__gte=2)
        .exists()
    )


def fresh_drill(system: AISystem) -> RollbackRequest | None:
    """The system's latest finished drill, if it finished within ROLLBACK_DRILL_DAYS."""
    since = timezone.now() - timedelta(days=settings.ROLLBACK_DRILL_DAYS)
    return (
        RollbackRequest.objects.filter(
            environment__system=system,
            is_drill=True,
            status__in=(RollbackStatus.SUCCEEDED, RollbackStatus.FAILED),
            finished_at__gte=since,
        )
        .select_related("environment", "from_release", "to_release")
        .order_by("-finished_at", "-id")
        .first()
    )


def record_drill(*, drill: RollbackRequest) -> list[GateCheck]:
    """A drill just finished: its outcome is the rollback-readiness check of every release of
    the system awaiting a decision. In the caller's transaction."""
    releases = Release.objects.filter(
        system_id=drill.environment.system_id, status__in=AWAITING_DECISION
    ).select_related("system")
    return [check for release in releases if (check := record_drill_on(release, drill))]


def record_drill_on(release: Release, drill: RollbackRequest) -> GateCheck | None:
    """One release's check from one finished drill (None if the drill has no person to
    name, which drills always do)."""
    recorder = drill.confirmed_by or drill.requested_by
    if recorder is None or drill.finished_at is None:
        return None
    passed = drill.status == RollbackStatus.SUCCEEDED
    took = (drill.finished_at - (drill.started_at or drill.requested_at)).total_seconds()
    versions = f"{drill.from_release.version if drill.from_release else '—'} → "
    versions += drill.to_release.version
    note = f"Drill in {drill.environment.name} ({versions}): " + (
        f"verified live in {took:.1f} s." if passed else f"failed: {drill.error}"
    )
    url = reverse("releases:system-environments", kwargs={"slug": release.system.slug})
    check = GateCheck.objects.create(
        release=release,
        criterion=GateCriterion.ROLLBACK_READY,
        comparison=Comparison.ATTESTED,
        passed=passed,
        evidence_uri=f"{url}#rollback-{drill.pk}",
        note=note[:2000],
        recorded_by=recorder,
        drill=drill,
        valid_until=(
            drill.finished_at + timedelta(days=settings.ROLLBACK_DRILL_DAYS) if passed else None
        ),
    )
    audit.record_event(
        actor=None,
        action="gate.recorded",
        obj=check,
        system=release.system,
        after={
            "release": release.pk,
            "criterion": check.criterion,
            "passed": passed,
            "drill": drill.pk,
            "valid_until": check.valid_until.isoformat() if check.valid_until else None,
            "note": check.note,
        },
    )
    return check

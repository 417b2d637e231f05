"""The pieces every release answer shares: a release with its decision stack, a person, a
rollback's one record, an environment, and finding the release or environment a question asks about.

Also used by incidents' monitoring answer and monitoring plan. Every function reads in a
fixed number of queries (or none, on prefetched relations).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q, QuerySet

from releases.models import (
    Deployment,
    Environment,
    ForensicRecord,
    Release,
    ReleaseComponent,
    RollbackRequest,
    RollbackStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

Answer = dict[str, Any]

# A dismissed proposal is no rollback: nobody acted on it.
ROLLBACKS_DONE_OR_UNDER_WAY = [
    RollbackStatus.REQUESTED,
    RollbackStatus.RUNNING,
    RollbackStatus.SUCCEEDED,
    RollbackStatus.FAILED,
]


# --- shared pieces --------------------------------------------------------------------------


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def component(item: ReleaseComponent | dict[str, str] | None) -> dict[str, str] | None:
    if item is None:
        return None
    if isinstance(item, dict):
        return {"version": item["version"], "uri": item["uri"], "digest": item["digest"]}
    return {"version": item.version, "uri": item.uri, "digest": item.digest}


def release_ref(release: Release) -> Answer:
    """A release with its whole decision stack (components prefetched: no query)."""
    return {
        "id": release.pk,
        "version": release.version,
        "title": release.title,
        "status": release.status,
        "content_digest": release.content_digest,
        "url": release.get_absolute_url(),
        "stack": {c.kind: component(c) for c in release.components.all()},
    }


def rollback_record(request: RollbackRequest) -> Answer:
    """A rollback (or drill): its one serialisation, for the evidence answers and the pack's
    rollbacks and drills alike. Relations loaded by the caller (`rollbacks_queryset`).

    `minutes_to_finish` runs from the press to the end whatever the end was; `status` says
    whether that end was a verified rollback.
    """
    finished = request.finished_at
    minutes = (finished - request.requested_at).total_seconds() / 60 if finished else None
    try:
        forensics: ForensicRecord | None = request.forensics
    except ObjectDoesNotExist:
        forensics = None
    return {
        "id": request.pk,
        "environment": request.environment.slug,
        "from_release": request.from_release.version if request.from_release else None,
        "to_release": request.to_release.version,
        "status": request.status,
        "status_label": request.get_status_display(),
        "is_drill": request.is_drill,
        "reason": request.reason,
        "requested_by": person(request.requested_by),
        "confirmed_by": person(request.confirmed_by),
        "automatic": request.requested_by_id is None,
        "trigger": request.trigger,
        "requested_at": request.requested_at,
        "started_at": request.started_at,
        "finished_at": finished,
        "minutes_to_finish": round(minutes, 2) if minutes is not None else None,
        "attempts": request.attempts,
        "error": request.error,
        "idempotency_key": request.idempotency_key,
        # Art. 73(6): what was live, kept before the rollback altered anything (None for a
        # request that never reached the backend).
        "forensic_digest": forensics.digest if forensics is not None else None,
        "forensics_captured_at": forensics.captured_at if forensics is not None else None,
    }


ROLLBACK_FIELDS = (
    "id", "environment", "from_release", "to_release", "status", "is_drill", "reason",
    "requested_by", "confirmed_by", "automatic", "trigger", "requested_at", "started_at",
    "finished_at", "minutes_to_finish", "attempts", "error", "idempotency_key",
    "forensic_digest", "forensics_captured_at",
)  # fmt: skip
"""The record's fields as a pack's CSV columns (the label is the JSON's alone)."""


def rollbacks_queryset() -> QuerySet[RollbackRequest]:
    return RollbackRequest.objects.select_related(
        "environment", "from_release", "to_release", "requested_by", "confirmed_by", "forensics"
    ).order_by("requested_at", "id")


def overlapping(start: datetime, end: datetime) -> Q:
    """Deployment periods that overlap [start, end)."""
    return Q(started_at__lt=end) & (Q(ended_at__isnull=True) | Q(ended_at__gt=start))


def with_stack(queryset: QuerySet[Release]) -> QuerySet[Release]:
    return queryset.prefetch_related("components")


def releases_in_period(system: AISystem, start: datetime, end: datetime) -> QuerySet[Release]:
    """The releases a period's evidence concerns: live at some moment of it, or registered,
    submitted or decided in it. Oldest first."""
    live = Deployment.objects.filter(overlapping(start, end), environment__system=system)
    return (
        Release.objects.filter(system=system)
        .filter(
            Q(pk__in=live.values("release_id"))
            | Q(created_at__gte=start, created_at__lt=end)
            | Q(submitted_at__gte=start, submitted_at__lt=end)
            | Q(decided_at__gte=start, decided_at__lt=end)
        )
        .order_by("created_at", "id")
    )


def releases_live_in_period(system: AISystem, start: datetime, end: datetime) -> QuerySet[Release]:
    live = Deployment.objects.filter(overlapping(start, end), environment__system=system)
    return Release.objects.filter(pk__in=live.values("release_id")).order_by("created_at", "id")


def find_environment(system: AISystem, slug: str | None) -> Environment | None:
    """The environment named, or the production one (else the first); None if it has none."""
    environments = list(Environment.objects.filter(system=system))
    if slug is not None:
        for environment in environments:
            if environment.slug == slug:
                return environment
        raise ValidationError({"environment": f"{system.name} has no environment {slug!r}."})
    production = [e for e in environments if e.is_production]
    candidates = production or environments
    return candidates[0] if candidates else None


def find_release(
    system: AISystem, version: str | None, queryset: QuerySet[Release]
) -> Release | None:
    """The release named, or the one live in production now (else the newest submitted one,
    else the newest); None if the system has no release."""
    queryset = queryset.filter(system=system)
    if version is not None:
        release = queryset.filter(version=version).first()
        if release is None:
            raise ValidationError({"release": f"{system.name} has no release {version!r}."})
        return release
    live = Deployment.objects.filter(
        environment__system=system, environment__is_production=True, ended_at__isnull=True
    ).values("release_id")
    return (
        queryset.filter(pk__in=live).first()
        or queryset.filter(submitted_at__isnull=False).order_by("-created_at", "-id").first()
        or queryset.order_by("-created_at", "-id").first()
    )


def environment_ref(environment: Environment) -> Answer:
    return {
        "slug": environment.slug,
        "name": environment.name,
        "is_production": environment.is_production,
    }

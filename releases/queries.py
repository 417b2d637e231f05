"""Reads the release pages, the API and other apps share."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Model, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from governance.models import AISystem, AuditEvent
from governance.permissions import restrict
from governance.roles import Action
from releases.gate_policy import default_policy
from releases.models import (
    Approval,
    Decision,
    Deployment,
    Environment,
    GateCheck,
    GatePolicy,
    Measurement,
    RegistryVersion,
    Release,
    ReleaseStatus,
    RollbackTrigger,
    RolloutStage,
    RolloutStep,
    StepAction,
    StepStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def live_deployment_at(environment: Environment, when: datetime) -> Deployment | None:
    """The period covering `when` in one indexed query (periods never overlap)."""
    period = (
        Deployment.objects.filter(environment=environment, started_at__lte=when)
        .select_related("release")
        .order_by("-started_at", "-id")
        .first()
    )
    if period is None or (period.ended_at is not None and period.ended_at <= when):
        return None
    return period


def live_release_at(environment: Environment, when: datetime) -> Release | None:
    period = live_deployment_at(environment, when)
    return period.release if period else None


def live_release(environment: Environment) -> Release | None:
    """The release live in `environment` now: its open deployment period's. Read from the
    prefetch of `with_live` when the environment came through it, else in one query."""
    prefetched: list[Deployment] | None = getattr(environment, OPEN_PERIODS, None)
    if prefetched is not None:
        return prefetched[0].release if prefetched else None
    period = (
        Deployment.objects.filter(environment=environment, ended_at__isnull=True)
        .select_related("release")
        .first()
    )
    return period.release if period else None


OPEN_PERIODS = "open_periods"  # where `with_live` puts an environment's open period


def with_live(environments: QuerySet[Environment]) -> QuerySet[Environment]:
    """`environments` with what is live in each (its open deployment period and release) in
    one more query for all of them, however many: `live_release` then reads it."""
    return environments.prefetch_related(
        Prefetch(
            "deployments",
            queryset=Deployment.objects.filter(ended_at__isnull=True).select_related("release"),
            to_attr=OPEN_PERIODS,
        )
    )


def environments_with_live(system_id: int) -> list[Environment]:
    """The system's environments, each with `.live` set to its live release (or None)."""
    environments = list(with_live(Environment.objects.filter(system_id=system_id)))
    for environment in environments:
        environment.live = live_release(environment)  # type: ignore[attr-defined]
    return environments


def releases_with_stack() -> QuerySet[Release]:
    return Release.objects.select_related("system", "author").prefetch_related("components")


def approval_queue(user: User) -> QuerySet[Release]:
    """Releases in review that `user` may decide on and has not: oldest submission first."""
    waiting = Release.objects.filter(status=ReleaseStatus.IN_REVIEW)
    return (
        restrict(waiting, user, Action.APPROVE_RELEASE)
        .exclude(author=user)
        .exclude(approvals__approver=user)
        .exclude(gate_checks__recorded_by=user)
        .select_related("system", "author")
        .annotate(
            approvals_given=Count("approvals", filter=Q(approvals__decision=Decision.APPROVE))
        )
        .order_by("submitted_at", "id")
    )


GATE_CHECK_COLUMNS = [
    "id",
    "release_id",
    "criterion",
    "comparison",
    "measured_value",
    "target",
    "unit",
    "passed",
    "evidence_uri",
    "note",
    "recorded_at",
    "recorded_by_id",
    "valid_until",
    "drill_id",
]
APPROVAL_COLUMNS = [
    "id",
    "release_id",
    "decision",
    "comment",
    "release_digest",
    "decided_at",
    "approver_id",
    "cites_rollback_id",
]


def _person(relation: str) -> list[str]:
    """What a page shows of a person: not their password hash or last login."""
    return [f"{relation}__{field}" for field in ("id", "username", "first_name", "last_name")]


def release_detail(pk: int, user: User) -> Release:
    """One release with everything its page shows, in a fixed number of queries."""
    steps = RolloutStep.objects.select_related("environment", "requested_by", "analysis")
    queryset = (
        restrict(Release.objects.all(), user)
        .select_related(
            "system",
            "author",
            "rollback_plan__environment",
            "rollback_plan__target_release",
            "rollback_plan__written_by",
            "registry_version",
            "based_on",
        )
        .prefetch_related(
            "components",
            "based_on__components",
            Prefetch(
                "gate_checks",
                queryset=GateCheck.objects.select_related("recorded_by").only(
                    *GATE_CHECK_COLUMNS, *_person("recorded_by")
                ),
            ),
            Prefetch(
                "approvals",
                queryset=Approval.objects.select_related("approver").only(
                    *APPROVAL_COLUMNS, *_person("approver")
                ),
            ),
            "rollback_plan__owners",
            "rollback_plan__triggers",
            Prefetch("rollout_steps", queryset=steps),
        )
    )
    return get_object_or_404(queryset, pk=pk)


ANALYSIS_ROWS = 100  # the newest measurements an analysis panel shows


def release_analyses(
    pk: int, user: User
) -> tuple[Release, list[RolloutStep], list[RollbackTrigger]]:
    """The release (404 unless the user may see it), its analysed steps, each with its
    analysis and newest measurements, and its plan's PromQL triggers: four queries, whatever
    the number of any."""
    release = get_object_or_404(
        restrict(Release.objects.all(), user).select_related(
            "system", "rollback_plan__environment"
        ),
        pk=pk,
    )
    # Not sliced here (a nested prefetch cannot be): an analysis holds at most its count
    # and the errors in between (concluded after five in a row); the panel cuts it.
    measurements = Measurement.objects.order_by("-taken_at", "-id")
    steps = list(
        RolloutStep.objects.filter(release=release, analysis__isnull=False)
        .select_related("environment", "analysis")
        .prefetch_related(Prefetch("analysis__measurements", queryset=measurements))
        .order_by("-requested_at", "-id")
    )
    triggers = list(RollbackTrigger.objects.filter(plan__release=release).exclude(query=""))
    return release, steps, triggers


def release_rollout(
    pk: int, user: User
) -> tuple[Release, list[RolloutStep], dict[str, int], set[int]]:
    """The rollout panel's reads: the release (404 unless the user may see it), its steps in
    order with their environments, people and analyses, the policy's minimum soaks, and the
    environments where it is live. Four queries, whatever the number of steps."""
    release = get_object_or_404(
        restrict(Release.objects.all(), user).select_related("system"), pk=pk
    )
    steps = list(
        RolloutStep.objects.filter(release=release)
        .select_related("environment", "requested_by", "analysis")
        .order_by("requested_at", "id")
    )
    soak = (
        GatePolicy.objects.filter(system=release.system_id)
        .values_list("soak_minutes", flat=True)
        .first()
    )
    live = set(
        Deployment.objects.filter(release=release, ended_at__isnull=True).values_list(
            "environment_id", flat=True
        )
    )
    return release, steps, dict(soak or {}), live


def release_rows(user: User) -> QuerySet[Release]:
    """The release list: each row with its gate checks, approvals count and where it is live."""
    live_periods = Prefetch(
        "deployments",
        queryset=Deployment.objects.filter(ended_at__isnull=True).select_related("environment"),
        to_attr="live_periods",
    )
    return (
        restrict(Release.objects.all(), user)
        .select_related("system", "author")
        .prefetch_related(
            Prefetch(
                "gate_checks",
                queryset=GateCheck.objects.only(
                    "id", "release_id", "criterion", "passed", "recorded_at", "valid_until"
                ),
            ),
            live_periods,
        )
        .annotate(
            approvals_given=Count("approvals", filter=Q(approvals__decision=Decision.APPROVE))
        )
        .order_by("-created_at", "-id")
    )


def policies_for(system_ids: set[int]) -> dict[int, GatePolicy]:
    """Gate policies of many systems in one query (their tier's defaults for those without)."""
    policies = {p.system_id: p for p in GatePolicy.objects.filter(system_id__in=system_ids)}
    missing = system_ids - policies.keys()
    if missing:
        for system in AISystem.objects.filter(pk__in=missing):
            policies[system.pk] = default_policy(system)
    return policies


HISTORY_LENGTH = 12


def release_history(release: Release, parts: list[Model | None]) -> list[AuditEvent]:
    """The release's latest audit events and those of what hangs on it (gate checks,
    approvals, rollout steps, its rollback plan), in one query."""
    ids: dict[str, list[str]] = {"releases.release": [str(release.pk)]}
    for part in filter(None, parts):
        ids.setdefault(part._meta.label_lower, []).append(str(part.pk))
    which = Q()
    for object_type, object_ids in ids.items():
        which |= Q(object_type=object_type, object_id__in=object_ids)
    events = AuditEvent.objects.filter(which, system=release.system_id)
    return list(events.order_by("-occurred_at", "-id")[:HISTORY_LENGTH])


def registered_from(release: Release) -> RegistryVersion | None:
    """The MLflow model version the registry intake imported the release from, or None
    (read from `release_detail`'s join when the release came through it)."""
    try:
        return release.registry_version
    except RegistryVersion.DoesNotExist:
        return None


def rollouts_in_flight(release: Release) -> dict[int, RolloutStep]:
    """Other releases of the system part-way through a rollout, by environment: the latest
    step of each, where it stopped short of general release and did not fail. One query."""
    steps = (
        RolloutStep.objects.filter(
            environment__system_id=release.system_id,
            release__status__in=(ReleaseStatus.APPROVED, ReleaseStatus.ROLLING_OUT),
        )
        .exclude(release=release)
        .select_related("release", "environment")
        .order_by("-requested_at", "-id")
    )
    latest: dict[tuple[int, int], RolloutStep] = {}
    for step in steps:
        latest.setdefault((step.environment_id, step.release_id), step)
    in_flight: dict[int, RolloutStep] = {}
    for (environment_id, _), step in latest.items():
        if (
            step.stage != RolloutStage.GENERAL_RELEASE
            and step.status != StepStatus.FAILED
            and step.action != StepAction.ABORT  # aborted: the rollout ended there
        ):
            in_flight.setdefault(environment_id, step)
    return in_flight

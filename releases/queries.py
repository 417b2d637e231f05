"""Reads the release pages, the API and other apps share."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from releases.models import Deployment, Environment, Release


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
    period = (
        Deployment.objects.filter(environment=environment, ended_at__isnull=True)
        .select_related("release")
        .first()
    )
    return period.release if period else None


def environments_with_live(system_id: int) -> list[Environment]:
    """The system's environments, each with `.live` set to its open deployment (or None)."""
    open_periods = Prefetch(
        "deployments",
        queryset=Deployment.objects.filter(ended_at__isnull=True).select_related("release"),
        to_attr="open_periods",
    )
    environments: list[Environment] = list(
        Environment.objects.filter(system_id=system_id).prefetch_related(open_periods)
    )
    for environment in environments:
        environment.live = environment.open_periods[0].release if environment.open_periods else None  # type: ignore[attr-defined]
    return environments


def releases_with_stack() -> QuerySet[Release]:
    return Release.objects.select_related("system", "author").prefetch_related("components")

"""Which release was live in environment E at time T? The deployment history, with the whole
decision stack in force — model, threshold policy and every other component, with digests.

For one moment (`answer_live`, a page or API call) or every period of a span
(`answer_live_period`, the evidence pack). See `governance.evidence.questions.answer_all`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.evidence.questions import Params
from releases.evidence.shared import (
    Answer,
    environment_ref,
    find_environment,
    overlapping,
    release_ref,
)
from releases.models import Deployment, Environment

if TYPE_CHECKING:
    from governance.models import AISystem


TIMELINE_LIMIT = 50


def _period(deployment: Deployment) -> Answer:
    return {
        "release": release_ref(deployment.release),
        "started_at": deployment.started_at,
        "ended_at": deployment.ended_at,
        "via": deployment.via,
    }


def _deployments() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("release").prefetch_related("release__components")


def answer_live(system: AISystem, params: Params) -> Answer:
    environment = find_environment(system, params.environment)
    at = params.at or timezone.now()
    if environment is None:
        return {"environment": None, "at": at, "live": None, "timeline": []}
    timeline = list(_deployments().filter(environment=environment)[:TIMELINE_LIMIT])
    live = next(
        (p for p in timeline if p.started_at <= at and (p.ended_at is None or p.ended_at > at)),
        None,
    )
    if live is None and timeline and timeline[-1].started_at > at:
        # Older than the timeline shown: one indexed query for the period in force then.
        live = (
            _deployments()
            .filter(environment=environment, started_at__lte=at)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
            .first()
        )
    return {
        "environment": environment_ref(environment),
        "at": at,
        "live": _period(live) if live else None,
        "timeline": [
            {**_period(p), "in_force": live is not None and p.pk == live.pk} for p in timeline
        ],
    }


def answer_live_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    periods: dict[int, list[Answer]] = defaultdict(list)
    for deployment in (
        _deployments()
        .filter(overlapping(start, end), environment__system=system)
        .order_by("started_at", "id")
    ):
        periods[deployment.environment_id].append(_period(deployment))
    return {
        "environments": [
            {**environment_ref(e), "periods": periods.get(e.pk, [])}
            for e in Environment.objects.filter(system=system)
        ]
    }

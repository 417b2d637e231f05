"""Reads the incident pages and API share."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from governance import rows
from governance.models import AISystem
from governance.permissions import can, restrict
from governance.roles import Action
from incidents.models import (
    ContainmentAction,
    Incident,
    IncidentRole,
    IncidentRoleKind,
    TimelineEntry,
)
from releases.models import Environment

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def incidents_for(user: User) -> QuerySet[Incident]:
    return restrict(Incident.objects.select_related("system", "environment", "live_release"), user)


def incident_to_act_on(pk: int, user: User) -> Incident:
    """One incident for an action on it, 404 unless `user` may see its system. Asked of the
    user's role grants, which the request reads once and the action's own permission check
    then reuses, instead of a subquery of every system the user can see."""
    incident = incident_row(pk)
    if incident is None or not can(user, Action.VIEW, incident.system):
        raise Http404("No incident matches the given query.")
    return incident


def incident_row(pk: int, *, lock: bool = False) -> Incident | None:
    """The incident with its system and environment, in one statement; `lock` takes its row
    lock for the caller's transaction (FOR NO KEY UPDATE: rows that merely reference the
    incident, such as the timeline entries a rollback worker writes meanwhile, are not held
    up, and two such transactions cannot deadlock over a referenced row)."""
    with connection.cursor() as cursor:
        cursor.execute(_incident_sql(lock), [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    incident, system, environment = rows.instances(row, Incident, AISystem, Environment)
    incident.system, incident.environment = system, environment
    if environment is not None and environment.system_id == system.pk:
        environment.system = system  # the same row: joined once
    return incident


# Written out: every action on an incident reads it, then locks it, before anything else
# (the ROLL BACK NOW press among them), and compiling these reads through the ORM cost more
# than running them (bench/rollback_latency.py).
@functools.cache
def _incident_sql(lock: bool) -> str:
    return f"""
SELECT {rows.columns(Incident, "incident")}, {rows.columns(AISystem, "system")},
    {rows.columns(Environment, "environment")}
FROM incidents_incident AS incident
JOIN governance_aisystem AS system ON system.id = incident.system_id
LEFT JOIN releases_environment AS environment ON environment.id = incident.environment_id
WHERE incident.id = %s
{"FOR NO KEY UPDATE OF incident" if lock else ""}
"""


def current_commander() -> Prefetch:
    """For lists: each incident's commander as `.commanders` (one query for the page)."""
    holders = IncidentRole.objects.filter(
        ended_at__isnull=True, role=IncidentRoleKind.COMMANDER
    ).select_related("user")
    return Prefetch("roles", queryset=holders, to_attr="commanders")


def incident_detail(pk: int, user: User) -> Incident:
    """One incident with its roles and containment prefetched (the timeline is paged apart)."""
    current_roles = IncidentRole.objects.filter(ended_at__isnull=True).select_related("user")
    queryset = (
        incidents_for(user)
        .select_related("rollback_plan", "declared_by")
        .prefetch_related(
            Prefetch("roles", queryset=current_roles, to_attr="current_roles"),
            Prefetch(
                "containments",
                queryset=ContainmentAction.objects.select_related("requested_by", "done_by"),
            ),
        )
    )
    return get_object_or_404(queryset, pk=pk)


def timeline_of(incident: Incident, *, after_id: int = 0, limit: int = 200) -> list[TimelineEntry]:
    """Entries after `after_id`, oldest first: what a live war room asks for every few seconds."""
    entries = (
        TimelineEntry.objects.filter(incident=incident, id__gt=after_id)
        .select_related("pin")
        .order_by("id")[:limit]
    )
    return list(entries)

"""Reads that the governance pages and API share, each with a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.db.models import Case, Prefetch, Q, QuerySet, Value, When

from governance.models import AISystem, ApiToken, AuditEvent, RoleGrant
from governance.permissions import restrict, visible_systems
from governance.roles import Action, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def systems_for(user: User) -> QuerySet[AISystem]:
    """Visible systems with their owners prefetched (two queries, whatever the count)."""
    owners = Prefetch(
        "role_grants",
        queryset=RoleGrant.objects.filter(role=Role.OWNER, user__isnull=False).select_related(
            "user"
        ),
        to_attr="owner_grants",
    )
    return visible_systems(user).prefetch_related(owners).order_by("name")


def roles_held(user: User, systems: list[AISystem]) -> dict[int, list[str]]:
    """{system id: role labels the user holds, directly or through a group}, in one query."""
    held: dict[int, set[str]] = defaultdict(set)
    grants = RoleGrant.objects.filter(system__in=[s.pk for s in systems]).filter(
        Q(user=user) | Q(group__in=user.groups.all())
    )
    for system_id, role in grants.values_list("system_id", "role"):
        held[system_id].add(Role(role).label)
    return {system_id: sorted(labels) for system_id, labels in held.items()}


def role_grants(system: AISystem) -> QuerySet[RoleGrant]:
    """Grants in the order roles are declared (owners first), then oldest first."""
    rank = Case(*[When(role=role, then=Value(n)) for n, role in enumerate(Role)])
    return (
        system.role_grants.select_related("user", "group", "granted_by")
        .annotate(role_rank=rank)
        .order_by("role_rank", "id")
    )


def audit_events_for(user: User) -> QuerySet[AuditEvent]:
    """Events of the systems whose audit trail the user may read."""
    return restrict(AuditEvent.objects.select_related("system"), user, Action.VIEW_AUDIT).order_by(
        "-occurred_at", "-id"
    )


def visible_audit_system_ids(user: User) -> QuerySet:
    return visible_systems(user, Action.VIEW_AUDIT).values("pk")


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """A person's API tokens, newest first, with what the list shows (one query)."""
    return ApiToken.objects.filter(owner=user).select_related("system", "revoked_by")


def api_tokens_on(system: AISystem) -> QuerySet[ApiToken]:
    """Every API token scoped to the system, whoever owns it (one query)."""
    return system.api_tokens.select_related("owner", "system", "revoked_by")

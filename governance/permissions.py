"""The one place that answers "may this user do X on this system", and "who may".

Every queryset a page or API view shows goes through `restrict` / `visible_systems`;
every service asks `require`; every list of people who may act asks `people_of`. A system
the user may not see does not exist for them (404); a system they see but may not act on
refuses the action (403).

The answers are read from the role grants themselves (a user's, and their groups'): one
indexed query. guardian's object permissions, which `governance.services` derives from the
same grants, are a mirror for Django's `has_perm(perm, obj)`; nothing here reads them (they
took two queries and a heavier subquery on every page and every press of a button).

A request authenticated by an API token (governance.api.authentication) is limited to the
token's system for its whole span: every answer below then comes from the roles the user
holds on that one system, so lists hold only its objects, other systems are 404, and a
superuser's token is worth their roles there, not the superuser's reach.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from governance.models import AISystem, RoleGrant
from governance.roles import ROLE_ACTIONS, Action, Role, roles_that_may

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

M = TypeVar("M", bound=Model)


# Within one request a view and the service it calls both ask about the same system: the
# answer is read once. Outside a request (tasks, shells, tests calling services) every
# question reads afresh, so a grant is seen at once.
_read_once: ContextVar[dict[tuple[int, int], frozenset[str]] | None] = ContextVar(
    "permissions_read_once", default=None
)


# The one system an API-token request may act on (None: no such limit). Set by the token's
# authentication, cleared with the request's answers when the request ends.
_limited_to: ContextVar[int | None] = ContextVar("permissions_limited_to", default=None)


@contextmanager
def permissions_read_once() -> Iterator[None]:
    """For the span of one request (the request-id middleware opens it)."""
    token = _read_once.set({})
    limit = _limited_to.set(None)
    try:
        yield
    finally:
        _limited_to.reset(limit)
        _read_once.reset(token)


def limit_to_system(system_id: int) -> None:
    """From now until the request ends, only `system_id` exists, with the roles held on it.

    Outside a request span (no middleware around it) nothing clears the limit: it then
    stays on the current context, which errs toward refusing, never toward granting."""
    _limited_to.set(system_id)
    forget_permissions()


def limited_to() -> int | None:
    """The one system this request may act on, if an API token authenticated it."""
    return _limited_to.get()


def _superuser(user: AnyUser) -> bool:
    """A superuser sees everything, unless an API token limits the request to one system."""
    return bool(user.is_superuser) and _limited_to.get() is None


def forget_permissions() -> None:
    """A role was granted or revoked: what this request read is stale."""
    cache = _read_once.get()
    if cache is not None:
        cache.clear()


def _held(user: User, system: AISystem) -> frozenset[str]:
    """The action codenames `user` holds on `system`, directly or through a group."""
    limit = _limited_to.get()
    if limit is not None and system.pk != limit:
        return frozenset()
    cache = _read_once.get()
    key = (user.pk, system.pk)
    if cache is not None and key in cache:
        return cache[key]
    with connection.cursor() as cursor:
        cursor.execute(_roles_sql(), {"user": user.pk, "system": system.pk})
        roles = {role for (role,) in cursor.fetchall()}
    held = frozenset(action.value for role in roles for action in ROLE_ACTIONS[Role(role)])
    if cache is not None:
        cache[key] = held
    return held


def _grants_of(user: User) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.filter(Q(user_id=user.pk) | Q(group__user=user.pk))


# The roles a user holds on one system: _grants_of's rule, written out. Nearly every
# request asks it first, and compiling the ORM's form (an OR across a join) cost more than
# running it. A test holds both forms to the same answers.
@functools.cache
def _roles_sql() -> str:
    memberships = get_user_model().groups.through._meta.db_table
    return f"""
SELECT role_grant.role FROM {RoleGrant._meta.db_table} AS role_grant
WHERE role_grant.system_id = %(system)s AND (
    role_grant.user_id = %(user)s
    OR role_grant.group_id IN (SELECT group_id FROM {memberships} WHERE user_id = %(user)s)
)
"""


def _roles_allowing(action: Action) -> list[str]:
    return [role.value for role, actions in ROLE_ACTIONS.items() if action in actions]


def visible_systems(user: AnyUser, action: Action = Action.VIEW) -> QuerySet[AISystem]:
    """The systems on which `user` may perform `action` (superusers: all of them)."""
    if not user.is_authenticated:
        return AISystem.objects.none()
    if _superuser(user):
        return AISystem.objects.all()
    granting = _grants_of(user).filter(role__in=_roles_allowing(action))
    limit = _limited_to.get()
    if limit is not None:
        granting = granting.filter(system_id=limit)
    return AISystem.objects.filter(pk__in=granting.values("system_id"))


def restrict(
    queryset: QuerySet[M], user: AnyUser, action: Action = Action.VIEW, *, via: str = "system"
) -> QuerySet[M]:
    """Narrow any queryset of objects that belong to a system (through `via`)."""
    if user.is_authenticated and _superuser(user):
        return queryset
    return queryset.filter(**{f"{via}__in": visible_systems(user, action).values("pk")})


def can(user: AnyUser, action: Action, system: AISystem) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if _superuser(user):
        return True
    return action.value in _held(user, system)


def require(user: AnyUser, action: Action, system: AISystem) -> None:
    """Raise PermissionDenied unless `user` may perform `action` on `system`."""
    if not can(user, action, system):
        raise PermissionDenied(refusal(action, system))


def refusal(action: Action, system: AISystem) -> str:
    """The sentence a person refused `action` reads: what they may not do, and which roles
    may (the rule, so they know whom to ask)."""
    holders = [role.label for role in roles_that_may(action)]
    if len(holders) == 1:
        takes = f"the {holders[0]} role"
    else:
        takes = "one of the roles " + ", ".join(holders)
    return f"You may not {action.label.lower()} on {system.name}: that takes {takes}."


def get_system_or_404(user: AnyUser, slug: str, action: Action = Action.VIEW) -> AISystem:
    """The system, if the user can see it; 404 if not; 403 if seen but `action` is refused."""
    try:
        system = visible_systems(user).get(slug=slug)
    except AISystem.DoesNotExist:
        raise Http404("No such AI system.") from None
    if action is not Action.VIEW:
        require(user, action, system)
    return system


def allowed_actions(user: AnyUser, system: AISystem) -> frozenset[Action]:
    """Every action the user holds on the system, in one permission lookup (for templates)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if _superuser(user):
        return frozenset(Action)
    held = _held(user, system)
    return frozenset(a for a in Action if a.value in held)


def holds_a_role(user: AnyUser, system: AISystem) -> bool:
    """Whether the user holds any role on the system, directly or through a group (being a
    superuser is not a role: it is what an API token, which carries roles, cannot carry)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(_held(user, system))


def systems_with_a_role(user: AnyUser) -> QuerySet[AISystem]:
    """The systems on which the user holds a role, whatever it is (superusers: theirs only)."""
    if not user.is_authenticated or not user.is_active:
        return AISystem.objects.none()
    return AISystem.objects.filter(pk__in=_grants_of(user).values("system_id"))


def people_of(
    system: AISystem, action: Action | None = None, *, with_superusers: bool = False
) -> QuerySet[User]:
    """Active users holding a role on the system (one that allows `action`, if given),
    directly or through a group, by name; with the superusers, who may do anything, when
    asked (who may approve: the quorum counts a superuser's approval as `can` allows it)."""
    grants = RoleGrant.objects.filter(system=system)
    if action is not None:
        grants = grants.filter(role__in=[r for r, acts in ROLE_ACTIONS.items() if action in acts])
    holders = Q(pk__in=grants.filter(user__isnull=False).values("user")) | Q(
        groups__in=grants.filter(group__isnull=False).values("group")
    )
    if with_superusers:
        holders |= Q(is_superuser=True)
    return (
        get_user_model()
        .objects.filter(holders, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def people_sharing_a_system(user: AnyUser) -> QuerySet[User]:
    """Active people holding a role (directly or through a group) on a system where `user`
    holds one: the only people a choice of people lists to them. Anyone else is found by
    typing their exact username or email (governance.people.find_people). Superusers too:
    seeing every system is not knowing every person."""
    if not user.is_authenticated or not user.is_active:
        return get_user_model().objects.none()
    grants = RoleGrant.objects.filter(system__in=systems_with_a_role(user).values("pk"))
    return (
        get_user_model()
        .objects.filter(
            Q(pk__in=grants.filter(user__isnull=False).values("user"))
            | Q(pk__in=grants.filter(group__isnull=False).values("group__user")),
            is_active=True,
        )
        .order_by("first_name", "last_name", "username")
    )


def may_choose_people(user: AnyUser) -> bool:
    """Whether a person-picker is of use to `user`: they may register a system or decide who
    holds a role on one. Anyone else gets no answer from the people search."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm("governance.add_aisystem"):
        return True
    return visible_systems(user, Action.MANAGE_ROLES).exists()

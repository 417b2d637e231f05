"""The one place that answers "may this user do X on this system".

Every queryset a page or API view shows goes through `restrict` / `visible_systems`;
every service asks `require`. A system the user may not see does not exist for them
(404); a system they see but may not act on refuses the action (403).

The answers are read from the role grants themselves (a user's, and their groups'): one
indexed query, where guardian's object permissions, which `governance.services` derives
from the same grants for the admin and `get_users_with_perms`, take two and a heavier
subquery on every page and every press of a button.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from governance.models import AISystem, RoleGrant
from governance.roles import ROLE_ACTIONS, Action, Role

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


@contextmanager
def permissions_read_once() -> Iterator[None]:
    """For the span of one request (the request-id middleware opens it)."""
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def forget_permissions() -> None:
    """A role was granted or revoked: what this request read is stale."""
    cache = _read_once.get()
    if cache is not None:
        cache.clear()


def _held(user: User, system: AISystem) -> frozenset[str]:
    """The action codenames `user` holds on `system`, directly or through a group."""
    cache = _read_once.get()
    key = (user.pk, system.pk)
    if cache is not None and key in cache:
        return cache[key]
    roles = _grants_of(user).filter(system_id=system.pk).values_list("role", flat=True)
    held = frozenset(action.value for role in set(roles) for action in ROLE_ACTIONS[Role(role)])
    if cache is not None:
        cache[key] = held
    return held


def _grants_of(user: User) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.filter(Q(user_id=user.pk) | Q(group__user=user.pk))


def _roles_allowing(action: Action) -> list[str]:
    return [role.value for role, actions in ROLE_ACTIONS.items() if action in actions]


def visible_systems(user: AnyUser, action: Action = Action.VIEW) -> QuerySet[AISystem]:
    """The systems on which `user` may perform `action` (superusers: all of them)."""
    if not user.is_authenticated:
        return AISystem.objects.none()
    if user.is_superuser:
        return AISystem.objects.all()
    granting = _grants_of(user).filter(role__in=_roles_allowing(action))
    return AISystem.objects.filter(pk__in=granting.values("system_id"))


def restrict(
    queryset: QuerySet[M], user: AnyUser, action: Action = Action.VIEW, *, via: str = "system"
) -> QuerySet[M]:
    """Narrow any queryset of objects that belong to a system (through `via`)."""
    if user.is_authenticated and user.is_superuser:
        return queryset
    return queryset.filter(**{f"{via}__in": visible_systems(user, action).values("pk")})


def can(user: AnyUser, action: Action, system: AISystem) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return action.value in _held(user, system)


def require(user: AnyUser, action: Action, system: AISystem) -> None:
    """Raise PermissionDenied unless `user` may perform `action` on `system`."""
    if not can(user, action, system):
        raise PermissionDenied(f"You may not {action.label.lower()} on {system.name}.")


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
    if user.is_superuser:
        return frozenset(Action)
    held = _held(user, system)
    return frozenset(a for a in Action if a.value in held)


def people_of(system: AISystem, action: Action | None = None) -> QuerySet[User]:
    """Active users holding a role on the system (one that allows `action`, if given),
    directly or through a group, by name."""
    grants = RoleGrant.objects.filter(system=system)
    if action is not None:
        grants = grants.filter(role__in=[r for r, acts in ROLE_ACTIONS.items() if action in acts])
    return (
        get_user_model()
        .objects.filter(
            Q(pk__in=grants.filter(user__isnull=False).values("user"))
            | Q(groups__in=grants.filter(group__isnull=False).values("group")),
            is_active=True,
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )

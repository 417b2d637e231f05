"""The one place that answers "may this user do X on this system".

Every queryset a page or API view shows goes through `restrict` / `visible_systems`;
every service asks `require`. A system the user may not see does not exist for them
(404); a system they see but may not act on refuses the action (403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user

from governance.models import AISystem, RoleGrant
from governance.roles import ROLE_ACTIONS, Action

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

M = TypeVar("M", bound=Model)

APP_LABEL = "governance"


def _codename(action: Action) -> str:
    return f"{APP_LABEL}.{action.value}"


def visible_systems(user: AnyUser, action: Action = Action.VIEW) -> QuerySet[AISystem]:
    """The systems on which `user` may perform `action` (superusers: all of them)."""
    if not user.is_authenticated:
        return AISystem.objects.none()
    return get_objects_for_user(
        user, _codename(action), klass=AISystem, accept_global_perms=False, with_superuser=True
    )


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
    return user.has_perm(_codename(action), system)


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
    codenames = set(ObjectPermissionChecker(user).get_perms(system))
    return frozenset(a for a in Action if a.value in codenames)


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

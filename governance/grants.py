"""A role grant with the object permissions it carries. The grants are what
governance.permissions answers from; guardian's object permissions mirror them for the admin.

Callers (the role and system services) check the permission and write the audit event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from governance.models import AISystem, RoleGrant
from governance.permissions import forget_permissions
from governance.roles import ROLE_ACTIONS, Action, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def add_grant(
    *,
    system: AISystem,
    role: Role,
    granted_by: User,
    user: User | None = None,
    group: Group | None = None,
) -> RoleGrant:
    try:
        with transaction.atomic():
            grant = RoleGrant.objects.create(
                system=system, role=role, user=user, group=group, granted_by=granted_by
            )
    except IntegrityError:
        raise ValidationError({"role": "This role is already held."}) from None
    principal = user if user is not None else group
    for action in ROLE_ACTIONS[role]:
        assign_perm(f"governance.{action.value}", principal, system)
    forget_permissions()
    return grant


def remove_grant(grant: RoleGrant) -> None:
    """Delete the grant and drop the permissions no remaining grant of that principal gives."""
    system, role = grant.system, Role(grant.role)
    principal = grant.user if grant.user_id else grant.group
    remaining = RoleGrant.objects.filter(system=system, user=grant.user, group=grant.group).exclude(
        pk=grant.pk
    )
    still_held: set[Action] = set()
    for other in remaining.values_list("role", flat=True):
        still_held |= ROLE_ACTIONS[Role(other)]
    grant.delete()
    for action in ROLE_ACTIONS[role] - still_held:
        remove_perm(f"governance.{action.value}", principal, system)
    forget_permissions()


def sync_role_permissions() -> int:
    """Give every grant the permissions its role carries today (after a role gains an action).

    Idempotent; runs after each `migrate`. Returns how many permissions were added.
    """
    added = 0
    for grant in RoleGrant.objects.select_related("system", "user", "group"):
        principal = grant.user if grant.user is not None else grant.group
        held = set(get_perms(principal, grant.system))
        for action in ROLE_ACTIONS[Role(grant.role)]:
            if action.value not in held:
                assign_perm(f"governance.{action.value}", principal, grant.system)
                added += 1
    return added

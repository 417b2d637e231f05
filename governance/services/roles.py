"""Granting and revoking roles on a system: the grants are the permission authority
(governance.permissions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from governance import audit
from governance.grants import add_grant, remove_grant
from governance.models import (
    AISystem,
    RoleGrant,
)
from governance.permissions import require
from governance.roles import Action, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def grant_role(
    *,
    actor: User,
    system: AISystem,
    role: str,
    user: User | None = None,
    group: Group | None = None,
) -> RoleGrant:
    """Give a user, or every member of a group, a role on the system."""
    require(actor, Action.MANAGE_ROLES, system)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if (user is None) == (group is None):
        raise ValidationError({"user": "Name either a user or a group."})
    if user is not None and not user.is_active:
        raise ValidationError({"user": "This account is deactivated."})
    if RoleGrant.objects.filter(system=system, role=role, user=user, group=group).exists():
        raise ValidationError({"role": "This role is already held by them."})

    grant = add_grant(system=system, role=Role(role), user=user, group=group, granted_by=actor)
    audit.record_event(
        actor=actor, action="role.granted", obj=grant, system=system, after=grant.audit_state()
    )
    return grant


@transaction.atomic
def revoke_role(*, actor: User, grant: RoleGrant) -> None:
    """Take a role back. The last owner of a system cannot be removed."""
    system = grant.system
    require(actor, Action.MANAGE_ROLES, system)
    grant = RoleGrant.objects.select_for_update(no_key=True, of=("self",)).get(pk=grant.pk)
    if grant.role == Role.OWNER:
        # Lock the system row so two concurrent revocations cannot remove both last owners.
        AISystem.objects.select_for_update(no_key=True, of=("self",)).get(pk=system.pk)
        if RoleGrant.objects.filter(system=system, role=Role.OWNER).count() <= 1:
            raise ValidationError({"role": "A system needs at least one owner."})
    before = grant.audit_state()
    grant_pk = grant.pk
    remove_grant(grant)
    audit.record_event(
        actor=actor,
        action="role.revoked",
        system=system,
        object_type="governance.rolegrant",
        object_id=str(grant_pk),
        object_repr=f"{grant.principal_name} — {grant.get_role_display()}",
        before=before,
    )

"""Every state change of the inventory, its roles and API tokens. Views, the API and the admin
call these.

Each service checks the permission, changes state, and appends the audit event, all in
one transaction; the audit append comes last so the chain lock is held only briefly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from governance import audit
from governance.models import (
    AISystem,
    ApiToken,
    ApiTokenStatus,
    OperatorRole,
    ReportingRegime,
    RiskCategory,
    RoleGrant,
)
from governance.permissions import can, forget_permissions, holds_a_role, limited_to, require
from governance.roles import ROLE_ACTIONS, Action, Role
from governance.tokens import (
    ALERT_TOKEN_KIND,
    API_TOKEN_KIND,
    digest_of,
    mark_used,
    new_secret,
    prefix_of,
)
from governance.validators import check_value

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SYSTEM_FIELDS = (
    "name", "slug", "intended_purpose", "risk_category", "operator_role", "reporting_regime"
)  # fmt: skip


def _system_state(system: AISystem) -> dict:
    state = audit.snapshot(system, SYSTEM_FIELDS)
    state["owners"] = sorted(
        system.role_grants.filter(role=Role.OWNER, user__isnull=False).values_list(
            "user__username", flat=True
        )
    )
    return state


def _check_unique(*, name: str, slug: str, exclude_pk: int | None = None) -> None:
    errors: dict[str, str] = {}
    others = (
        AISystem.objects.all() if exclude_pk is None else AISystem.objects.exclude(pk=exclude_pk)
    )
    if others.filter(name__iexact=name).exists():
        errors["name"] = "An AI system with this name already exists."
    if others.filter(slug=slug).exists():
        errors["slug"] = "An AI system with this slug already exists."
    if errors:
        raise ValidationError(errors)


def _check_choices(*, risk_category: str, operator_role: str, reporting_regime: str) -> None:
    errors = {}
    if risk_category not in RiskCategory.values:
        errors["risk_category"] = "Choose a valid EU AI Act risk category."
    if operator_role not in OperatorRole.values:
        errors["operator_role"] = "Choose the organisation's role: provider or deployer."
    if reporting_regime not in ReportingRegime.values:
        errors["reporting_regime"] = "Choose which law its serious incidents are reported under."
    if errors:
        raise ValidationError(errors)


def _check_text(**values: str) -> None:
    """The inventory entry's text within the model's caps (the API and forms check it too)."""
    for field, value in values.items():
        check_value(AISystem, field, value)


def check_may_register_system(actor: User) -> None:
    """Registering a system is a global right, and no API token's (tokens are per system)."""
    if not actor.has_perm("governance.add_aisystem"):
        raise PermissionDenied("You may not register AI systems.")
    if limited_to() is not None:
        raise PermissionDenied("An API token acts on its one system: it cannot register another.")


@transaction.atomic
def create_system(
    *,
    actor: User,
    name: str,
    intended_purpose: str,
    risk_category: str,
    slug: str = "",
    owners: Iterable[User] = (),
    operator_role: str = OperatorRole.PROVIDER,
    reporting_regime: str = ReportingRegime.AI_ACT,
) -> AISystem:
    """Register an AI system; the creator and the named owners hold the owner role on it."""
    check_may_register_system(actor)
    _check_text(name=name, intended_purpose=intended_purpose)
    slug = slug or slugify(name)[:80]
    if not slug:
        raise ValidationError({"slug": "Give a slug of letters, digits and hyphens."})
    _check_choices(
        risk_category=risk_category, operator_role=operator_role, reporting_regime=reporting_regime
    )
    _check_unique(name=name, slug=slug)

    system = AISystem.objects.create(
        name=name,
        slug=slug,
        intended_purpose=intended_purpose,
        risk_category=risk_category,
        operator_role=operator_role,
        reporting_regime=reporting_regime,
        created_by=actor,
    )
    for owner in {actor, *owners}:
        _grant(system=system, role=Role.OWNER, user=owner, granted_by=actor)
    audit.record_event(
        actor=actor, action="system.created", obj=system, system=system, after=_system_state(system)
    )
    return system


@transaction.atomic
def update_system(
    *,
    actor: User,
    system: AISystem,
    name: str,
    slug: str,
    intended_purpose: str,
    risk_category: str,
    owners: Iterable[User] | None = None,
    operator_role: str | None = None,
    reporting_regime: str | None = None,
) -> AISystem:
    """Edit the inventory entry. Owners, if given, replace the current owner grants; the role
    and the reporting regime, if not given, stay as they are."""
    system = AISystem.objects.select_for_update(no_key=True, of=("self",)).get(pk=system.pk)
    require(actor, Action.CHANGE, system)
    _check_text(name=name, intended_purpose=intended_purpose)
    operator_role = system.operator_role if operator_role is None else operator_role
    reporting_regime = system.reporting_regime if reporting_regime is None else reporting_regime
    _check_choices(
        risk_category=risk_category, operator_role=operator_role, reporting_regime=reporting_regime
    )
    _check_unique(name=name, slug=slug, exclude_pk=system.pk)
    before = _system_state(system)

    system.name, system.slug = name, slug
    system.intended_purpose, system.risk_category = intended_purpose, risk_category
    system.operator_role, system.reporting_regime = operator_role, reporting_regime
    system.save()
    if owners is not None:
        _replace_owners(system=system, owners=set(owners), actor=actor)

    after = _system_state(system)
    if after != before:
        audit.record_event(
            actor=actor,
            action="system.updated",
            obj=system,
            system=system,
            before=before,
            after=after,
        )
    return system


def _replace_owners(*, system: AISystem, owners: set[User], actor: User) -> None:
    if not owners:
        raise ValidationError({"owners": "A system needs at least one owner."})
    grants = system.role_grants.filter(role=Role.OWNER, user__isnull=False).select_related("user")
    current = {g.user: g for g in grants if g.user is not None}
    for user in owners - current.keys():
        _grant(system=system, role=Role.OWNER, user=user, granted_by=actor)
    for user in current.keys() - owners:
        _revoke(current[user])


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

    grant = _grant(system=system, role=Role(role), user=user, group=group, granted_by=actor)
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
    _revoke(grant)
    audit.record_event(
        actor=actor,
        action="role.revoked",
        system=system,
        object_type="governance.rolegrant",
        object_id=str(grant_pk),
        object_repr=f"{grant.principal_name} — {grant.get_role_display()}",
        before=before,
    )


# --- API tokens ------------------------------------------------------------------------------

API_TOKEN_EXPIRY_DAYS = (7, 30, 90, 365)  # or None: never
API_TOKEN_NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 80


@transaction.atomic
def create_api_token(
    *, actor: User, system: AISystem, name: str, expires_in_days: int | None
) -> tuple[ApiToken, str]:
    """A token that acts as `actor` on `system` alone; the secret is returned here, never again.

    Only a system the actor holds a role on: the token carries those roles (as they stand at
    each request), so a superuser without one has nothing to give it.
    """
    if limited_to() is not None:
        raise PermissionDenied("An API token cannot create API tokens: sign in to do that.")
    name = name.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the token after what uses it, e.g. “release bot (CI)”."
    elif len(name) > API_TOKEN_NAME_LENGTH:
        errors["name"] = f"Keep the name to {API_TOKEN_NAME_LENGTH} characters."
    elif _live_api_tokens(actor).filter(name__iexact=name).exists():
        errors["name"] = "You already have a live token with this name."
    if expires_in_days is not None and expires_in_days not in API_TOKEN_EXPIRY_DAYS:
        days = ", ".join(str(d) for d in API_TOKEN_EXPIRY_DAYS)
        errors["expires_in"] = f"Choose an expiry of {days} days, or never."
    if not holds_a_role(actor, system):
        errors["system"] = "You hold no role on this system: a token can only carry your roles."
    if errors:
        raise ValidationError(errors)

    secret = new_secret(API_TOKEN_KIND)
    token = ApiToken.objects.create(
        owner=actor,
        system=system,
        name=name,
        prefix=prefix_of(secret),
        digest=digest_of(secret),
        expires_at=(timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None),
    )
    audit.record_event(
        actor=actor,
        action="api_token.created",
        obj=token,
        system=system,
        after=token.audit_state(),
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> ApiToken:
    """Take a token back, for good: its owner may, and so may whoever manages the roles of
    its system (the owners of the system), as they may take back the roles it carries."""
    if token.owner_id != actor.pk and not can(actor, Action.MANAGE_ROLES, token.system):
        raise PermissionDenied("Only the token's owner or the system's owners may revoke it.")
    # Locked: two revocations at once would otherwise both pass the check and both audit.
    token = (
        ApiToken.objects.select_for_update(no_key=True, of=("self",))
        .select_related("owner", "system")
        .get(pk=token.pk)
    )
    if token.revoked_at is not None:
        raise ValidationError("The token is already revoked.")
    before = {**token.audit_state(), "status": token.status.value}
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit.record_event(
        actor=actor,
        action="api_token.revoked",
        obj=token,
        system=token.system,
        before=before,
        after={**token.audit_state(), "status": ApiTokenStatus.REVOKED.value},
    )
    return token


class ApiTokenRefused(Exception):
    """The secret does not authenticate; the message says why, for the client to read."""


def authenticate_api_token(*, secret: str) -> ApiToken:
    """The live token with this secret (owner loaded), marked used, or ApiTokenRefused.

    One query for a token in steady use; its last use is written at most once a minute.
    """
    if secret.startswith(ALERT_TOKEN_KIND):
        raise ApiTokenRefused(
            "This is an alert token (fsa_…): it only posts alerts to /api/alerts/. "
            "The API takes an API token (fsk_…)."
        )
    if not secret.startswith(API_TOKEN_KIND):
        raise ApiTokenRefused("Unknown API token.")
    token = ApiToken.objects.select_related("owner").filter(digest=digest_of(secret)).first()
    if token is None:
        raise ApiTokenRefused("Unknown API token.")
    if token.revoked_at is not None:
        raise ApiTokenRefused("This API token has been revoked.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise ApiTokenRefused(f"This API token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC.")
    if not token.owner.is_active:
        raise ApiTokenRefused("The account this API token acts as is deactivated.")
    mark_used(token)
    return token


def _live_api_tokens(owner: User) -> QuerySet[ApiToken]:
    now = timezone.now()
    return ApiToken.objects.filter(owner=owner, revoked_at__isnull=True).exclude(
        expires_at__lte=now
    )


# --- keeping guardian's object permissions in step with the grants -------------------------


def _grant(
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


def _revoke(grant: RoleGrant) -> None:
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

"""API tokens: issued to a person for one system, shown once, stored as a digest, revoked
or expired; and authenticating a request that carries one."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance import audit
from governance.models import (
    AISystem,
    ApiToken,
    ApiTokenStatus,
)
from governance.permissions import can, holds_a_role, limited_to
from governance.roles import Action
from governance.tokens import (
    ALERT_TOKEN_KIND,
    API_TOKEN_KIND,
    digest_of,
    mark_used,
    new_secret,
    prefix_of,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


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

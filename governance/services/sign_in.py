"""Signing in through the identity provider: the account it names, created on first sign-in,
and its Failsafe groups made those OIDC_GROUP_MAP gives its IdP groups, at every sign-in.

Roles granted to a group reach its members through the grants (governance.permissions reads a
user's groups on every check), so a person the IdP no longer lists in a group loses the roles
of the Failsafe group it maps to when they next sign in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from governance import audit
from governance.models import IdentityLink
from governance.permissions import forget_permissions

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class SignInRefused(Exception):
    """The provider vouched for someone Failsafe will not let in this way; says why."""


@transaction.atomic
def sign_in_with_idp(*, claims: Mapping[str, Any]) -> User:
    """The Failsafe account for the person the provider's claims describe, brought up to date.

    The account is the one linked to the provider's `sub` (IdentityLink). A person signing in
    for the first time gets the account their username claim names, created if there is none;
    an existing account is linked only if it has no password of its own (it was made for single
    sign-on) and no other identity of this provider: otherwise whoever could rename themselves
    at the provider would take over a Failsafe account."""
    username = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("sub")
    if not isinstance(username, str) or not username.strip():
        raise SignInRefused(
            f"The identity provider sent no {settings.OIDC_USERNAME_CLAIM} for this person, "
            "so Failsafe cannot tell which account is theirs."
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
        raise SignInRefused("The identity provider sent no usable subject (sub) for this person.")
    issuer = settings.OIDC_ISSUER
    user_model = get_user_model()
    link = IdentityLink.objects.filter(issuer=issuer, subject=subject).first()
    created = False
    if link is not None:
        user_id = link.user_id
    else:
        # get_or_create: two first sign-ins of one person at once still make one account.
        found, created = user_model.objects.get_or_create(
            username=username.strip()[:150], defaults={"password": make_password(None)}
        )
        user_id = found.pk
    # Lock it: a sign-in in another tab must not interleave its group changes with these.
    user = user_model.objects.select_for_update().get(pk=user_id)
    if user.is_superuser:
        raise SignInRefused(
            f"{user.username} is a break-glass administrator account: it signs in with its "
            "password only, never through the identity provider."
        )
    if not user.is_active:
        raise SignInRefused("This account is deactivated in Failsafe. Ask an administrator.")
    if link is None:
        _link(user, issuer=issuer, subject=subject, created=created)

    before = _profile(user)
    _take_profile(user, claims)
    user.save()
    _sync_groups(user, _idp_groups(claims.get(settings.OIDC_GROUPS_CLAIM)))
    after = _profile(user)
    if created or before != after:
        audit.record_event(
            actor=user,
            action="user.created_at_sign_in" if created else "user.updated_at_sign_in",
            obj=user,
            before=None if created else before,
            after=after,
        )
    return user


def _link(user: User, *, issuer: str, subject: str, created: bool) -> None:
    if IdentityLink.objects.filter(user=user, issuer=issuer).exists():
        raise SignInRefused(
            f"The account {user.username} belongs to another person at the identity provider. "
            "Ask an administrator: usernames at the provider do not move Failsafe accounts."
        )
    if not created and user.has_usable_password():
        raise SignInRefused(
            f"An account named {user.username} already exists and signs in with a password, so "
            "Failsafe will not give it to a single sign-on identity by its username. An "
            "administrator who knows it is the same person turns its password sign-in off "
            "(the admin's password form: disabled); the next sign-in here then links it."
        )
    IdentityLink.objects.create(user=user, issuer=issuer, subject=subject)
    if not created:
        audit.record_event(
            actor=user, action="user.linked_at_sign_in", obj=user,
            after={"issuer": issuer, "subject": subject},
        )  # fmt: skip


def _idp_groups(claim: Any) -> set[str]:
    if isinstance(claim, str):
        return {claim}
    if isinstance(claim, list):
        return {group for group in claim if isinstance(group, str)}
    return set()


def _take_profile(user: User, claims: Mapping[str, Any]) -> None:
    def text(name: str, limit: int) -> str | None:
        value = claims.get(name)
        return value.strip()[:limit] if isinstance(value, str) and value.strip() else None

    user.email = text("email", 254) or user.email
    given, family, full = text("given_name", 150), text("family_name", 150), text("name", 300)
    if given or family:
        user.first_name, user.last_name = given or "", family or ""
    elif full:
        first, _, last = full.rpartition(" ")
        user.first_name, user.last_name = (first, last) if first else (last, "")
        user.first_name, user.last_name = user.first_name[:150], user.last_name[:150]


def _sync_groups(user: User, idp_groups: Iterable[str]) -> None:
    """Only the groups OIDC_GROUP_MAP names are the provider's to give and take; groups an
    administrator gave by hand stay as they are."""
    mapping: dict[str, tuple[str, ...]] = settings.OIDC_GROUP_MAP
    managed = {group for groups in mapping.values() for group in groups}
    wanted = {group for idp_group in idp_groups for group in mapping.get(idp_group, ())}
    held = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    if held == wanted:
        return
    user.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in sorted(wanted - held)))
    user.groups.remove(*Group.objects.filter(name__in=held - wanted))
    forget_permissions()


def _profile(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.get_full_name(),
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }

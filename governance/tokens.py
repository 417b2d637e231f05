"""Bearer secrets for machines, shared by alert tokens (incidents) and API tokens (governance).

A secret is made here, handed to its creator once, and kept only as its sha256 digest
(looked up by equality: a 256-bit random secret needs no slow hash) and its first
characters, which tell tokens apart in a list and reveal nothing that helps guess the rest.
Its kind is readable at the start (`fsa_` alert, `fsk_` API), so a secret scanner, or a
person who pastes one in the wrong place, can tell what it is.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Model
from django.utils import timezone

from governance.audit.context import current_credential

ALERT_TOKEN_KIND = "fsa_"
API_TOKEN_KIND = "fsk_"
PREFIX_LENGTH = 10  # the kind and 6 random characters: 36 of the 256 bits

# A token's last use is written at most this often: a busy client would otherwise turn
# every read into a write on the token's row.
LAST_USED_PRECISION = timedelta(minutes=1)


class ShownOnce(str):
    """A new secret, on its way to the one response that shows it. It is the string itself,
    but its repr shows only the prefix: a repr of what holds it (Django logs a template's
    whole context at DEBUG when a variable lookup fails; error reports list locals) does
    not carry it into a log."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(f"{prefix_of(self)}…")


def new_secret(kind: str) -> ShownOnce:
    return ShownOnce(kind + secrets.token_urlsafe(32))


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def prefix_of(secret: str) -> str:
    return secret[:PREFIX_LENGTH]


def act_with(token: Model, kind: str) -> None:
    """For the rest of the request, the audit trail names this token as what the actor
    signed in with ("API token fsk_ab12cd… release-bot"). Called by the authentication,
    inside the request-id middleware, which clears it when the request ends."""
    prefix, name = getattr(token, "prefix", ""), getattr(token, "name", "")
    current_credential.set(f"{kind} {prefix}… {name}")


def mark_used(token: Model) -> None:
    """Record that the token was just used, unless that was recorded less than a minute ago."""
    now = timezone.now()
    last = getattr(token, "last_used_at", None)
    if last is not None and now - last < LAST_USED_PRECISION:
        return
    # An update of the one column: never a save() that could write back stale fields.
    type(token)._default_manager.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now  # type: ignore[attr-defined]

"""Bearer tokens monitoring uses to post alerts for one system: hashed at rest, shown once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.permissions import require
from governance.roles import Action
from governance.tokens import ALERT_TOKEN_KIND, digest_of, mark_used, new_secret, prefix_of
from incidents.models import AlertToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem


@transaction.atomic
def create_alert_token(*, actor: User, system: AISystem, name: str) -> tuple[AlertToken, str]:
    """A new token for the system; the secret is returned here and never again."""
    require(actor, Action.CHANGE, system)
    if not name.strip():
        raise ValidationError({"name": "Name the token after what uses it, e.g. Alertmanager."})
    secret = new_secret(ALERT_TOKEN_KIND)
    token = AlertToken.objects.create(
        system=system,
        name=name.strip(),
        prefix=prefix_of(secret),
        digest=digest_of(secret),
        created_by=actor,
    )
    audit.record_event(
        actor=actor,
        action="alert_token.created",
        obj=token,
        system=system,
        after={"name": token.name, "prefix": token.prefix},
    )
    return token, secret


@transaction.atomic
def revoke_alert_token(*, actor: User, token: AlertToken) -> AlertToken:
    require(actor, Action.CHANGE, token.system)
    token = AlertToken.objects.select_for_update(no_key=True, of=("self",)).get(pk=token.pk)
    if token.revoked_at is not None:
        raise ValidationError("The token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record_event(
        actor=actor,
        action="alert_token.revoked",
        obj=token,
        system=token.system,
        after={"name": token.name, "prefix": token.prefix},
    )
    return token


def live_alert_token(secret: str) -> AlertToken | None:
    """The live token with this secret (its system loaded), or None. Marks it used (at most
    once a minute)."""
    token = (
        AlertToken.objects.select_related("system")
        .filter(digest=digest_of(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    mark_used(token)
    return token

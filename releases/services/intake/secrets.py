"""A system's webhook secrets: created by its owners, shown once, kept encrypted (HMAC needs
the secret itself), revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.permissions import require
from governance.roles import Action
from governance.tokens import ShownOnce, new_secret, prefix_of
from governance.validators import check_value
from releases.models import (
    WebhookSecret,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem


WEBHOOK_SECRET_KIND = "fsw_"  # Failsafe webhook: a scanner can tell what it is


SECRET_NAME = WebhookSecret._meta.get_field("name").max_length or 80


# --- webhook secrets ---------------------------------------------------------------------


@transaction.atomic
def create_webhook_secret(
    *, actor: User, system: AISystem, name: str
) -> tuple[WebhookSecret, ShownOnce]:
    """A new signing secret for the system's MLflow webhook; returned here and never again."""
    require(actor, Action.CHANGE, system)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the secret after what uses it, e.g. MLflow prod."})
    check_value(WebhookSecret, "name", name)
    secret = new_secret(WEBHOOK_SECRET_KIND)
    webhook_secret = WebhookSecret.objects.create(
        system=system,
        name=name,
        prefix=prefix_of(secret),
        sealed={"secret": str(secret)},
        created_by=actor,
    )
    audit.record_event(
        actor=actor, action="webhook_secret.created", obj=webhook_secret, system=system,
        after={"name": webhook_secret.name, "prefix": webhook_secret.prefix},
    )  # fmt: skip
    return webhook_secret, secret


@transaction.atomic
def revoke_webhook_secret(*, actor: User, secret: WebhookSecret) -> WebhookSecret:
    """Deliveries signed with it are refused from now on; revoking is for good."""
    require(actor, Action.CHANGE, secret.system)
    secret = WebhookSecret.objects.select_for_update(no_key=True, of=("self",)).get(pk=secret.pk)
    if secret.revoked_at is not None:
        raise ValidationError("The secret is already revoked.")
    secret.revoked_at = timezone.now()
    secret.sealed = {}  # nothing left to verify with: the secret itself is gone
    secret.save(update_fields=["revoked_at", "sealed"])
    audit.record_event(
        actor=actor, action="webhook_secret.revoked", obj=secret, system=secret.system,
        after={"name": secret.name, "prefix": secret.prefix},
    )  # fmt: skip
    return secret

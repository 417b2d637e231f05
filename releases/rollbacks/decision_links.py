"""The link in a proposal's notice that opens its confirmation directly: signed (the
SECRET_KEY, a salt of its own) and expiring after ROLLBACK_DECISION_LINK_MINUTES.

The link only finds the page: confirming is still a POST by a signed-in person who holds the
role (the same service the war room's button calls), so a forwarded or leaked link decides
nothing by itself.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from releases.models import RollbackRequest

_SALT = "failsafe.rollbacks.decision-link"


class LinkRefused(Exception):
    """The link is not one Failsafe made for this proposal, or it has expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def decision_url(request: RollbackRequest) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(str(request.pk))
    return reverse("releases:rollback-decision", args=[request.pk, token])


def check_link(request_id: int, token: str) -> None:
    """Raise LinkRefused unless `token` is this proposal's and still fresh."""
    minutes = settings.ROLLBACK_DECISION_LINK_MINUTES
    try:
        signed = signing.TimestampSigner(salt=_SALT).unsign(
            token, max_age=timedelta(minutes=minutes)
        )
    except signing.SignatureExpired as error:
        raise LinkRefused(
            f"This link has expired: a notice's link opens the proposal for {minutes} minutes.",
            expired=True,
        ) from error
    except signing.BadSignature as error:
        raise LinkRefused("This link is not one Failsafe sent: it was changed or cut.") from error
    if signed != str(request_id):
        raise LinkRefused("This link was made for another rollback.")

"""The Failsafe user behind a Slack user: the one active account whose email is the email
Slack reports for them (users.info), and only when Slack marks that email confirmed. An
address Slack has not confirmed, or one two accounts share, maps to nobody: a press then
does nothing but say how to be recognised."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from governance.models import AISystem
from incidents.slack.client import client_for

if TYPE_CHECKING:
    from django.contrib.auth.models import User

HOW_TO_LINK = (
    "Failsafe does not know who you are in Slack. It recognises you by the email address "
    "Slack has confirmed for your account: make it the email of your Failsafe account (ask "
    "an administrator), then press again. Nothing was done."
)


def failsafe_user(system: AISystem, slack_user_id: str) -> User | None:
    """The account of the Slack user who pressed, asked of Slack with the system's bot
    (its workspace's users only). None: nobody, or not surely this person."""
    answer = client_for(system).users_info(user=slack_user_id)
    slack_user = answer.get("user") or {}
    if slack_user.get("deleted") or slack_user.get("is_bot"):
        return None
    if slack_user.get("is_email_confirmed") is not True:
        return None
    email = (slack_user.get("profile") or {}).get("email") or ""
    if "@" not in email:
        return None
    found = list(get_user_model().objects.filter(email__iexact=email, is_active=True)[:2])
    return found[0] if len(found) == 1 else None

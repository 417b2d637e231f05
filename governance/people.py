"""How a person is named to other people: pages, timelines, notices.

Records meant for machines and auditors (audit events, evidence, API payloads) keep the
username, which never changes; what people read uses the name people know.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def display_name(user: User) -> str:
    """The full name, or the username for someone who gave none."""
    return user.get_full_name() or user.get_username()


def person_label(user: User) -> str:
    """Where two people may share a name (a choice of people, a notice): 'Full (username)'."""
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


def names_of(usernames: Iterable[str]) -> list[str]:
    """Display names for usernames a record kept (a snapshot), in their order, in one query.
    Someone no longer there keeps the username the record has."""
    from django.contrib.auth import get_user_model

    usernames = list(usernames)
    if not usernames:
        return []
    users = get_user_model().objects.filter(username__in=usernames)
    known = {user.get_username(): display_name(user) for user in users}
    return [known.get(username, username) for username in usernames]

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


# A person-picker never lists everyone: it offers those who share a system with the one
# choosing (governance.permissions.people_sharing_a_system), matched on a few typed
# characters, and anyone else only on their exact username or email.
SEARCH_MIN_CHARS = 3
SEARCH_LIMIT = 8


def find_people(actor: User, query: str) -> list[User]:
    """At most SEARCH_LIMIT people for a picker: those sharing a system with `actor` whose
    name or username contains `query`, and whoever has exactly that username or email.
    Nothing for fewer than SEARCH_MIN_CHARS characters."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from governance.permissions import people_sharing_a_system

    query = query.strip()
    if len(query) < SEARCH_MIN_CHARS or "\x00" in query:
        return []
    known = people_sharing_a_system(actor).filter(
        Q(username__icontains=query)
        | Q(first_name__icontains=query)
        | Q(last_name__icontains=query)
    )
    exact = get_user_model().objects.filter(
        Q(username__iexact=query) | Q(email__iexact=query), is_active=True
    )
    ids = [*exact.values_list("pk", flat=True)[:SEARCH_LIMIT], *known.values_list("pk", flat=True)]
    ids = list(dict.fromkeys(ids))[:SEARCH_LIMIT]
    found = get_user_model().objects.filter(pk__in=ids)
    return sorted(found, key=lambda user: (display_name(user).lower(), user.get_username()))


def resolve_person(value: str) -> User | None:
    """The one active person whose username or email is exactly `value` (any case)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    value = value.strip()
    if not value or "\x00" in value:
        return None
    users = list(
        get_user_model().objects.filter(
            Q(username__iexact=value) | Q(email__iexact=value), is_active=True
        )[:2]
    )
    if len(users) == 2:  # an email two accounts share: only the username tells them apart
        users = [u for u in users if u.get_username().lower() == value.lower()]
    return users[0] if len(users) == 1 else None

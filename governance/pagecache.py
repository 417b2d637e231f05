"""Whole-page caching of a system's busiest read pages, keyed on what can change them.

A system's pages change only through its services, and every service writes an audit event
to the system's chain in its own transaction. The number of committed events in that chain
(the sealed head plus the events still waiting for the sealer, read in one statement so the
two agree) therefore grows with every change and is a version of everything the system
shows. A page is cached under that version, the viewer (with their group memberships, since
roles can be granted to groups) and the session's CSRF secret (the page carries a token made
from it). Nothing is ever invalidated: a change makes a new key, and the old entry ages out.
Because keys are content-addressed, a cache local to each server process is always right.

A stored page also proves that its viewer could see it: it is stored only after the full
permission check of a render, and roles are granted and revoked through audited services of
the system, so any change of the viewer's access changes the version. A hit therefore needs
no permission query of its own, which is what makes it cheap.

Not covered, by choice: a person renaming themselves shows on cached pages of other systems
after their next change or PAGE_CACHE_SECONDS, whichever comes first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import connection
from django.db.models import Model
from django.http import Http404, HttpResponse

from governance.audit.chain import chain_name
from governance.http import AuthenticatedHttpRequest
from governance.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CACHE_ALIAS = "pages"
HEADER = "X-Page-Cache"  # hit, miss or bypass: lets tests and operators see the path taken


def system_version(system_id: int, user: User) -> str:
    """The system's change count and the viewer's groups, in one statement."""
    memberships = Group.user_set.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT
              (SELECT seq FROM {AuditChainHead._meta.db_table} WHERE chain = %(chain)s),
              (SELECT count(*) FROM {AuditEvent._meta.db_table}
                 WHERE chain = %(chain)s AND seq IS NULL),
              (SELECT array_agg(group_id ORDER BY group_id) FROM {memberships}
                 WHERE user_id = %(user)s)
            """,
            {"chain": chain_name(system_id), "user": user.pk},
        )
        sealed, unsealed, groups = cursor.fetchone()
    return f"{system_id}:{(sealed or 0) + unsealed}:{groups or []}"


def owning_system(model: type[Model], pk: int) -> int:
    """The system an object belongs to. Objects never move between systems: kept for good."""
    key = f"system-of:{model._meta.label_lower}:{pk}"
    system_id = caches[CACHE_ALIAS].get(key)
    if system_id is None:
        system_id = model._default_manager.filter(pk=pk).values_list("system_id", flat=True).first()
        if system_id is None:
            raise Http404(f"No such {model._meta.verbose_name}.")
        caches[CACHE_ALIAS].set(key, system_id, None)
    return system_id


def cached_page(
    request: AuthenticatedHttpRequest, version: str, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """The page as `render` makes it (permission check included), or the same page stored
    under `version` (from `system_version`) for this viewer."""
    key = _key(request, version)
    if key is None:
        response = render()
        response[HEADER] = "bypass"
        return response
    cache = caches[CACHE_ALIAS]
    stored = cache.get(key)
    if stored is not None:
        content, content_type = stored
        response = HttpResponse(content, content_type=content_type)
        response[HEADER] = "hit"
        return response
    response = render()
    if response.status_code == 200 and not response.streaming:
        cache.set(key, (response.content, response["Content-Type"]), settings.PAGE_CACHE_SECONDS)
    response[HEADER] = "miss"
    return response


def _key(request: AuthenticatedHttpRequest, version: str) -> str | None:
    """None where the page must be rendered: flash messages to show, or no CSRF secret yet."""
    csrf_secret = request.META.get("CSRF_COOKIE")
    # Counting does not consume the messages; the render that follows shows them.
    if request.method != "GET" or not csrf_secret or len(messages.get_messages(request)):
        return None
    user = request.user
    parts = [
        version,
        request.get_full_path(),
        request.headers.get("HX-Request", ""),
        request.headers.get("HX-Target", ""),
        str(user.pk),
        str(user.is_superuser),
        user.get_full_name(),  # the page header shows it
        csrf_secret,
    ]
    return "page:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

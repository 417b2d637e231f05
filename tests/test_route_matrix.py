"""The one role matrix: every URL pattern of the site, for every persona, → the status it answers.

The patterns come from the URL conf itself (the DRF routers' included, with their format
suffixes and API root); the entries from tests/route_matrix.py. A pattern no entry calls
fails the matrix, and so does an entry whose path no longer resolves.

One test per world (the data a group of routes needs, built once), one subtest per route:
building a world per route would cost a minute more.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404

from tests.governance.test_api_tokens import world as api_tokens_world  # noqa: F401
from tests.governance.test_role_matrix import everyone  # noqa: F401 (fixture)
from tests.incidents.api_routes import world as incident_api_world  # noqa: F401
from tests.incidents.conftest import incident  # noqa: F401 (fixture)
from tests.incidents.test_action_items_page import world as action_items_world  # noqa: F401
from tests.incidents.test_alert_token_pages import world as alert_tokens_world  # noqa: F401
from tests.incidents.test_postmortem_pages import world as postmortem_world  # noqa: F401
from tests.incidents.war_room_routes import world as war_room_world  # noqa: F401
from tests.matrix import PERSONAS, Route, check_route
from tests.releases.routes import world as releases_world  # noqa: F401
from tests.releases.test_intake import world as intake_world  # noqa: F401
from tests.route_matrix import (
    ADMIN_CATCH_ALL,
    ADMIN_PREFIX,
    ADMIN_REGEX_KWARGS,
    CALLERS,
    GROUPS,
    Caller,
    Group,
    home_of,
)


@dataclass(frozen=True)
class Pattern:
    route: str  # as ResolverMatch.route spells it: "releases/<int:pk>/", "api/systems/$"
    name: str | None  # namespaced, as reverse() takes it
    view: str  # module.name of the callback
    methods: frozenset[str] = frozenset()  # a DRF viewset's: the HTTP methods it maps

    def describe(self) -> str:
        return f"{self.route!r} (name {self.name or '-'}, view {self.view})"


def url_patterns() -> list[Pattern]:
    """Every pattern the URL conf resolves, includes walked recursively."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Pattern]:
        for pattern in patterns:
            # Joined as Django joins ResolverMatch.route (URLResolver._join_route): an
            # included regex loses its leading ^.
            own = str(pattern.pattern)
            route = prefix + own.removeprefix("^") if prefix else own
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, route, inner)
            else:
                assert isinstance(pattern, URLPattern)
                callback = pattern.callback
                view_class = getattr(callback, "view_class", None)  # a class-based view
                label = view_class.__name__ if view_class else getattr(callback, "__name__", "?")
                view = f"{callback.__module__}.{label}"
                name = f"{namespace}{pattern.name}" if pattern.name else None
                # HEAD goes where GET goes (DRF maps it): it needs no entry of its own.
                methods = frozenset(getattr(callback, "actions", None) or ()) - {"head"}
                yield Pattern(route, name, view, methods)

    return list(walk(get_resolver().url_patterns, "", ""))


def sample_path(path: str) -> str:
    """The path with every "{id}" filled in and the query dropped: enough to resolve it."""
    return re.sub(r"\{\w+\}", "1", path.partition("?")[0])


def routes() -> list[tuple[Group, Route]]:
    return [(group, route) for group in GROUPS for route in group.routes]


def is_admin(pattern: Pattern) -> bool:
    return pattern.route.startswith(ADMIN_PREFIX)


# ---- completeness --------------------------------------------------------------------------


def test_every_url_pattern_has_an_entry() -> None:
    covered = set()
    for _, route in routes():
        with contextlib.suppress(Resolver404):  # the next test names it
            covered.add(resolve(sample_path(route.path)).route)
    missing = [p for p in url_patterns() if p.route not in covered and not is_admin(p)]
    assert not missing, "\n".join(
        f"URL pattern {p.describe()} has no entry in the role matrix: add a Route that calls "
        f"it, with the personas allowed, to the ROUTES of {home_of(p.view)} (see "
        "tests/route_matrix.py, which gathers them)."
        for p in missing
    )


def test_every_entry_calls_a_url_pattern_that_exists() -> None:
    known = {p.route for p in url_patterns()}
    stale = []
    for group, route in routes():
        try:
            match = resolve(sample_path(route.path))
        except Resolver404:
            stale.append((group, route, "resolves to no URL pattern"))
            continue
        if match.route not in known or match.route.startswith(ADMIN_PREFIX):
            stale.append((group, route, f"resolves to {match.route!r}, not a pattern of its own"))
    assert not stale, "\n".join(
        f"Route {route.name!r} ({route.method} {route.path}) {why}: the pattern it was written "
        f"for is gone. Remove or update it in {group.home}."
        for group, route, why in stale
    )


def test_every_method_of_an_api_viewset_has_an_entry() -> None:
    # A viewset answers the methods of its mixins: one added (DestroyModelMixin, say) opens
    # a method no entry checks, on a pattern the test above already counts as covered.
    called: dict[str, set[str]] = {}
    for _, route in routes():
        with contextlib.suppress(Resolver404):
            match = resolve(sample_path(route.path))
            called.setdefault(match.route, set()).add(route.method.lower())
    missing = [
        f"{pattern.describe()} answers {method.upper()}, which no entry calls: add a Route "
        f"for it to the ROUTES of {home_of(pattern.view)}."
        for pattern in url_patterns()
        for method in sorted(pattern.methods - called.get(pattern.route, set()))
    ]
    assert not missing, "\n".join(missing)


def test_no_two_patterns_share_a_route() -> None:
    # Two patterns spelled alike: the second can never be reached.
    seen: dict[str, Pattern] = {}
    shadowed = []
    for pattern in url_patterns():
        if pattern.route in seen:
            shadowed.append(f"{pattern.describe()} is shadowed by {seen[pattern.route].describe()}")
        seen[pattern.route] = pattern
    assert not shadowed, "\n".join(shadowed)


# ---- the matrix ----------------------------------------------------------------------------


@pytest.fixture
def governance_world(fraud, everyone, settings):  # noqa: F811
    from governance.evidence.sign import generate_private_pem
    from governance.models import AuditEvent
    from governance.roles import Role

    settings.EVIDENCE_SIGNING_KEY = generate_private_pem().decode()
    ids = {
        "grant": fraud.role_grants.get(role=Role.VIEWER).pk,
        "event": AuditEvent.objects.filter(system=fraud).earliest("id").pk,
    }
    return everyone, ids


@pytest.fixture
def site_world(people, celery_worker, monkeypatch):
    # /readyz is ready only when a worker answers: celery_worker is the suite's real one.
    # Here the question is who gets an answer, not how fast: on a loaded machine (two test
    # workers on two cores) the worker's reply can take longer than the probe's bound, which
    # tests/test_health.py holds to.
    from config import health

    monkeypatch.setattr(health, "WORKER_TIMEOUT", 5.0)
    return people, {}


class SessionPerPersona(Client):
    """A test client that signs each persona in once and then only swaps session cookies.

    check_route signs in and out for every persona of every route, inside savepoints it
    rolls back: a session made there would be gone by the next route, and making one each
    time (with its axes and audit bookkeeping) was a third of this matrix's run time. Every
    persona is signed in before the first savepoint (`sign_in_all`); logging out drops the
    cookies, as Client.logout() does, without touching the stored session.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[int, str] = {}

    def sign_in_all(self, users: dict[str, Any]) -> None:
        for user in users.values():
            self.cookies = SimpleCookie()  # else login() flushes the last persona's session
            super().force_login(user)
            self.sessions[user.pk] = self.cookies[django_settings.SESSION_COOKIE_NAME].value
        self.logout()

    def force_login(self, user: Any, backend: str | None = None) -> None:
        self.cookies = SimpleCookie({django_settings.SESSION_COOKIE_NAME: self.sessions[user.pk]})

    def logout(self) -> None:
        self.cookies = SimpleCookie()


@pytest.fixture
def outsider_elsewhere(outsider, other_system):
    """The outsider owns another system: a user of another system, not merely of none.

    The app matrices' outsider holds no role anywhere; here a role elsewhere, the strongest
    there is, must still not reach fraud: 404 where a role holder would get 403.
    """
    from django.contrib.auth import get_user_model

    from governance import services
    from governance.roles import Role

    stranger = get_user_model().objects.get(username="stranger")  # registered other_system
    services.grant_role(actor=stranger, system=other_system, role=Role.OWNER, user=outsider)
    return outsider


@pytest.mark.django_db
@pytest.mark.parametrize("group", GROUPS, ids=lambda group: group.world.removesuffix("_world"))
def test_every_route_answers_each_persona(group, request, subtests, outsider_elsewhere):
    users, ids = request.getfixturevalue(group.world)
    assert users["outsider"] == outsider_elsewhere
    client = SessionPerPersona()
    client.sign_in_all(users)
    for route in group.routes:
        with subtests.test(msg=route.name):
            assert check_route(route, client, users, ids) == []


# ---- callers who are not personas ----------------------------------------------------------

METRICS_TOKEN = "scrape-" + "x" * 24


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.name)
def test_a_caller_who_is_no_persona_gets_what_is_expected(
    caller: Caller, client, settings, owner, fraud
):
    from incidents.services.alert_tokens import create_alert_token

    settings.METRICS_TOKEN = METRICS_TOKEN
    secrets = {
        "metrics_token": METRICS_TOKEN,
        "alert_token": create_alert_token(actor=owner, system=fraud, name="Alertmanager")[1],
    }
    headers = {key: value.format(**secrets) for key, value in caller.headers.items()}
    call = getattr(client, caller.method.lower())
    extra: dict[str, Any] = {"headers": headers, "REMOTE_ADDR": caller.remote_addr}
    if caller.data is not None:
        extra.update(data=caller.data, content_type="application/json")
    response = call(caller.path, **extra)
    assert response.status_code == caller.status, response.content[:200]


# ---- the admin: staff only -----------------------------------------------------------------


def admin_paths() -> list[tuple[Pattern, str]]:
    paths = []
    for pattern in url_patterns():
        if not is_admin(pattern):
            continue
        if pattern.view.endswith(".catch_all_view"):
            path = ADMIN_CATCH_ALL
        elif pattern.name in ADMIN_REGEX_KWARGS:
            path = reverse(pattern.name, kwargs=ADMIN_REGEX_KWARGS[pattern.name])
        else:
            assert "(?P" not in pattern.route, (
                f"admin pattern {pattern.describe()}: give its arguments in ADMIN_REGEX_KWARGS "
                "(tests/route_matrix.py)"
            )
            path = "/" + re.sub(r"<(?:\w+:)?\w+>", "1", pattern.route)
        paths.append((pattern, path))
    return paths


LOGINS = ("/admin/login/?next=", "/login/?next=")


def admin_verdict(pattern: Pattern, persona: str, response: Any) -> bool:
    """Whether the response turns a caller who is not staff away, as the admin should."""
    status, location = response.status_code, response.get("Location", "")
    if pattern.name == "admin:login":
        # The sign-in form; a signed-in persona is told the account may not enter.
        return status == 200 and (persona == "anonymous" or b"not authorized" in response.content)
    if pattern.name == "admin:logout" and persona != "anonymous":
        return status == 302 and location == reverse("admin:index")  # itself turned away
    # To the admin's login (AdminSite.admin_view), or, for anonymous callers of a model's
    # pages, to the site's: LoginRequiredMiddleware acts first, and only the AdminSite's own
    # views carry the admin's login_url.
    return status == 302 and location.startswith(LOGINS)


@pytest.mark.django_db
def test_the_admin_turns_away_everyone_but_staff(client, people):
    """Every admin pattern, every persona (none is staff): turned away to a login."""
    paths = admin_paths()
    wrong = []
    for persona in PERSONAS:
        client.logout()
        if persona != "anonymous":
            client.force_login(people[persona])
        for pattern, path in paths:
            response = client.get(path)
            if not admin_verdict(pattern, persona, response):
                location = response.get("Location", "")
                wrong.append(
                    f"{pattern.describe()} as {persona}: {response.status_code} {location}"
                )
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
def test_staff_reach_every_admin_list(client):
    from django.contrib import admin

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        pages.append(reverse("admin:app_list", kwargs={"app_label": meta.app_label}))
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    answers = {page: client.get(page).status_code for page in dict.fromkeys(pages)}
    assert {page: status for page, status in answers.items() if status != 200} == {}

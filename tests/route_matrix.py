"""The entries of the one role matrix (tests/test_route_matrix.py): every URL pattern of the
site, and the status each persona gets from it.

Each app keeps its own routes (the ROUTES lists of tests/releases/routes.py,
tests/incidents/*_routes.py and of the page tests that end in one); they are imported here,
not copied, and grouped by the world their paths need: the fixture `<name>_world` of
tests/worlds/<name>.py, which builds the rows "{draft}", "{incident}"… name (registered for
the whole suite by tests/conftest.py; tests/test_route_matrix.py asks for it by name). Only
that test calls the routes: each once, as every persona. The routes no app keeps are added
here. A route is matched to its URL pattern by resolving its path, so an entry needs
no pattern name: it says what it calls and who may call it.

The admin is one pattern entry: every pattern under admin/ turns away anyone who is not
staff (the personas never are), and a staff user gets in (tests/test_route_matrix.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tests.governance import test_api_tokens as api_tokens
from tests.governance import test_role_matrix as governance
from tests.incidents import api_routes as incident_api
from tests.incidents import test_action_items_page as action_items
from tests.incidents import test_alert_token_pages as alert_tokens
from tests.incidents import test_postmortem_pages as postmortem
from tests.incidents import war_room_routes as war_room
from tests.matrix import AUDITORS, EVERYONE, OWNERS, Route
from tests.releases import routes as releases
from tests.releases import test_intake as intake

NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Open(Route):
    """A route that does not send an anonymous caller to log in: it answers `anonymous`."""

    anonymous: int = 200

    def expected(self, persona: str) -> int:
        return self.anonymous if persona == "anonymous" else super().expected(persona)

    def with_people(self, people: dict[str, Any], ids: dict[str, Any] | None = None) -> Route:
        base = {field.name: getattr(self, field.name) for field in dataclasses.fields(Route)}
        return dataclasses.replace(self, data=Route(**base).with_people(people, ids).data)


def as_json(route: Route) -> Route:
    """The same call through the DRF format suffix: /api/systems/fraud/ → /api/systems/fraud.json"""
    path, _, query = route.path.partition("?")
    path = path.removesuffix("/") + ".json" + (f"?{query}" if query else "")
    return dataclasses.replace(route, name=f"{route.name} (.json)", path=path)


@dataclass(frozen=True)
class Group:
    """Routes whose paths one world fixture fills in, and where a new one of them belongs."""

    world: str  # `<name>_world`, the fixture of tests/worlds/<name>.py: (people, ids)
    routes: tuple[Route, ...]
    home: str  # the module whose ROUTES list a new route of this kind joins


# ---- governance ----------------------------------------------------------------------------

# The governance API is the only one on DRF's DefaultRouter: it adds the API root and a
# format-suffix twin of each route (/api/systems.json). The twins answer exactly as the
# routes they double, and the API root lists the endpoints to anyone signed in.
_ROUTER_ROUTES = {
    "api list",
    "api register",
    "api detail",
    "api edit",
    "api replace",
    "api roles",
    "api grant",
    "api revoke",
    "api audit events",
    "api audit event",
}
GOVERNANCE_ROUTES = [
    # An audit event is visible only where its system's audit trail is: a role holder who
    # may not read the trail does not learn the event exists.
    Route("api audit event", "GET", "/api/audit-events/{event}/", AUDITORS, refused=404, api=True),
    Route(
        "api replace",
        "PUT",
        "/api/systems/fraud/",
        OWNERS,
        api=True,
        data={
            "name": "Card fraud screening",
            "intended_purpose": "Scores card payments.",
            "risk_category": "high",
        },
    ),
    Route("api root", "GET", "/api/", EVERYONE, api=True),
    Route("api root (.json)", "GET", "/api/.json", EVERYONE, api=True),
]
GOVERNANCE_ROUTES += [
    as_json(route)
    for route in [*governance.ROUTES, *GOVERNANCE_ROUTES]
    if route.name in _ROUTER_ROUTES
]

# ---- releases ------------------------------------------------------------------------------

ENVIRONMENT_FORM = {"name": "Canary", "backend_type": "local"}
RELEASES_ROUTES = [
    Route(
        "add an environment by form",
        "POST",
        "/systems/fraud/environments/new/",
        OWNERS,
        ok=302,
        data=ENVIRONMENT_FORM,
    ),
    Route(
        "change an environment by form",
        "POST",
        "/systems/fraud/environments/{production}/",
        OWNERS,
        ok=302,
        data={**ENVIRONMENT_FORM, "name": "Production", "is_production": "on"},
    ),
    Route(
        "replace an environment",
        "PUT",
        "/api/environments/{production}/",
        OWNERS,
        api=True,
        data={"system": "fraud", "name": "Production", "is_production": True},
    ),
    Route(
        "gate policy by form",
        "POST",
        "/systems/fraud/gate-policy/",
        OWNERS,
        ok=302,
        data={"required_criteria": ["benchmark"], "approvals_required": "2"},
    ),
]

# ---- the site: probes, sign-in, home, and what needs no data -----------------------------

ALERT = {"name": "ReviewRateHigh", "severity": "critical"}
ALERTMANAGER = {
    "version": "4",
    "alerts": [{"status": "firing", "labels": {"alertname": "ReviewRateHigh"}}],
}
SITE_ROUTES = [
    Open("liveness probe", "GET", "/healthz", EVERYONE),
    # Ready: the database answers. Status: the broker, a worker (the world starts one), the
    # sealer and the rollback queue too.
    Open("readiness probe", "GET", "/readyz", EVERYONE),
    Open("status probe", "GET", "/statusz", EVERYONE),
    # The test client calls from 127.0.0.1, an allowed network; CALLERS has the others.
    Open("metrics", "GET", "/metrics", EVERYONE),
    Open("login page", "GET", "/login/", EVERYONE, ok=302),  # signed in: on to the home page
    Open("sign in with a wrong password", "POST", "/login/", EVERYONE, ok=302,
         data={"username": "vic", "password": "wrong"}),
    Route("log out", "POST", "/logout/", EVERYONE, ok=302),
    # Single sign-on answers only where OIDC_ISSUER is set (tests/browser/test_sso.py).
    Open("sign in with the identity provider, not configured", "GET", "/login/sso/", EVERYONE,
         ok=404, anonymous=404),
    Open("identity provider callback, not configured", "GET", "/login/sso/callback/", EVERYONE,
         ok=404, anonymous=404),
    Route("home page", "GET", "/", EVERYONE),
    Route("incident dashboard", "GET", "/incidents/dashboard/", EVERYONE),
    # Monitoring's door: a bearer alert token, never a person's session (CALLERS).
    Route("alert intake", "POST", "/api/alerts/", NOBODY, refused=401, outsider=401, api=True,
          data=ALERT),
    Route("alertmanager intake", "POST", "/api/alerts/alertmanager/", NOBODY, refused=401,
          outsider=401, api=True, data=ALERTMANAGER),
    # Slack's door: its request signature, never a person's session (tests/incidents/
    # test_slack.py signs requests as Slack does).
    Route("slack interactivity", "POST", "/api/slack/interactivity/", NOBODY, refused=401,
          outsider=401, api=True, data={"payload": "{}"}),
]  # fmt: skip

# ---- paths under the API that match no route ------------------------------------------------

# After every API route, one catch-all (governance.api.views.unmatched_api_path): a path of
# the wrong shape is a JSON 404, for anyone, signed in or not, as any unknown path is.
UNMATCHED_ROUTES = [
    Open(f"unmatched under /api/{prefix}/", "GET", f"/api/{prefix}/1/no-such-thing/", EVERYONE,
         ok=404, anonymous=404, api=True)
    for prefix in ("audit-events", "systems", "releases", "incidents", "alerts", "intake",
                   "no-such-api")
]  # fmt: skip

GROUPS = [
    Group(
        "governance_world",
        (*governance.ROUTES, *GOVERNANCE_ROUTES),
        "tests/governance/test_role_matrix.py",
    ),
    Group("releases_world", (*releases.ROUTES, *RELEASES_ROUTES), "tests/releases/routes.py"),
    Group("war_room_world", tuple(war_room.ROUTES), "tests/incidents/war_room_routes.py"),
    Group("incident_api_world", tuple(incident_api.ROUTES), "tests/incidents/api_routes.py"),
    Group("postmortem_world", tuple(postmortem.ROUTES), "tests/incidents/test_postmortem_pages.py"),
    Group(
        "action_items_world",
        tuple(action_items.ROUTES),
        "tests/incidents/test_action_items_page.py",
    ),
    Group(
        "alert_tokens_world",
        tuple(alert_tokens.ROUTES),
        "tests/incidents/test_alert_token_pages.py",
    ),
    Group("api_tokens_world", tuple(api_tokens.ROUTES), "tests/governance/test_api_tokens.py"),
    Group("intake_world", tuple(intake.ROUTES), "tests/releases/test_intake.py"),
    Group("site_world", (*SITE_ROUTES, *UNMATCHED_ROUTES), "tests/route_matrix.py"),
]

# ---- callers who are not personas ----------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """One request from someone other than a persona: from another network, or with a token."""

    name: str
    method: str
    path: str
    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    remote_addr: str = "127.0.0.1"
    data: dict[str, Any] | None = None


OUTSIDE = "203.0.113.9"  # TEST-NET-3: no allowed network
CALLERS = [
    Caller("metrics from outside", "GET", "/metrics", 403, remote_addr=OUTSIDE),
    Caller("metrics through a proxy", "GET", "/metrics", 403, headers={"X-Forwarded-For": OUTSIDE}),
    Caller("metrics from outside with a wrong token", "GET", "/metrics", 403, remote_addr=OUTSIDE,
           headers={"Authorization": "Bearer not-the-token"}),
    Caller("metrics from outside with the token", "GET", "/metrics", 200, remote_addr=OUTSIDE,
           headers={"Authorization": "Bearer {metrics_token}"}),
    Caller("alert with the system's token", "POST", "/api/alerts/", 202,
           headers={"Authorization": "Bearer {alert_token}"}, data=ALERT),
    Caller("alertmanager with the system's token", "POST", "/api/alerts/alertmanager/", 202,
           headers={"Authorization": "Bearer {alert_token}"}, data=ALERTMANAGER),
    Caller("alert with an unknown token", "POST", "/api/alerts/", 401,
           headers={"Authorization": "Bearer fsa_unknown"}, data=ALERT),
    # The rest of the API takes personal API tokens (fsk_…), never an alert token; what a
    # live API token may reach is tests/governance/test_api_tokens.py's.
    Caller("api with an unknown API token", "GET", "/api/systems/", 401,
           headers={"Authorization": "Bearer fsk_unknown"}),
    Caller("api with an alert token", "GET", "/api/systems/", 401,
           headers={"Authorization": "Bearer {alert_token}"}),
]  # fmt: skip

# ---- the admin -----------------------------------------------------------------------------

ADMIN_PREFIX = "admin/"
# Arguments for the admin patterns written as regular expressions (placeholders fill the rest).
ADMIN_REGEX_KWARGS = {"admin:app_list": {"app_label": "auth"}}
ADMIN_CATCH_ALL = "/admin/no-such-page/"

# ---- where a route that has no entry belongs -----------------------------------------------

# The view's module (its start) → the file whose ROUTES a route to that view joins.
HOMES = {
    "governance": "tests/governance/test_role_matrix.py",
    "governance.views.api_token": "tests/governance/test_api_tokens.py",
    "governance.views.system_api_token": "tests/governance/test_api_tokens.py",
    "releases": "tests/releases/routes.py",
    "incidents.views.war_room": "tests/incidents/war_room_routes.py",
    "incidents.views.war_room_actions": "tests/incidents/war_room_routes.py",
    "incidents.views.postmortem": "tests/incidents/test_postmortem_pages.py",
    "incidents.views.action_items": "tests/incidents/test_action_items_page.py",
    "incidents.views.alert_tokens": "tests/incidents/test_alert_token_pages.py",
    "releases.views.intake": "tests/releases/test_intake.py",
    "releases.api.intake": "tests/releases/test_intake.py",
    "incidents.api": "tests/incidents/api_routes.py",
    "governance.api.views.unmatched_path": "tests/route_matrix.py (UNMATCHED_ROUTES)",
}


def home_of(view: str) -> str:
    """Where a route to this view (module.name) belongs: the longest HOMES prefix decides."""
    matches = [prefix for prefix in HOMES if view.startswith(prefix)]
    return HOMES[max(matches, key=len)] if matches else "tests/route_matrix.py (SITE_ROUTES)"

"""The shared role-matrix helper: every route, for every persona, → the status it must answer.

A route lists only its exceptions; the defaults say what a role holder, an outsider
(a user holding no role on the system) and an anonymous visitor get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PERSONAS = [
    "anonymous",
    "outsider",
    "owner",
    "release_manager",
    "model_owner",
    "rollback_owner",
    "oncall_lead",
    "responder",
    "compliance",
    "viewer",
]
ROLE_HOLDERS = PERSONAS[2:]

# Who a route lets in, for the sets many routes share (an app names its narrower ones).
SEERS = frozenset(ROLE_HOLDERS)  # anyone holding a role on the system
EVERYONE = SEERS | {"outsider"}  # anyone signed in
OWNERS = frozenset({"owner"})
AUDITORS = frozenset({"owner", "release_manager", "oncall_lead", "compliance"})
LEADS = frozenset({"oncall_lead"})
RESPONDERS = frozenset({"oncall_lead", "responder"})
PRESSERS = frozenset({"oncall_lead", "rollback_owner"})  # who may roll back


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # may hold {grant}: the id of a role grant on the system
    allowed: frozenset[str]  # personas that succeed
    ok: int = 200
    refused: int = 403  # what a role holder without the right gets
    outsider: int = 404  # what a user with no role on the system gets
    api: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def expected(self, persona: str) -> int:
        if persona == "anonymous":
            return 401 if self.api else 302
        if persona in self.allowed:
            return self.ok
        if persona == "outsider":
            return self.outsider
        return self.refused

    def with_people(self, people: dict[str, Any], ids: dict[str, Any] | None = None) -> Route:
        """Replace "@persona" in the form data with that persona's user id, "{name}" with ids."""

        def resolve(value: Any) -> Any:
            if isinstance(value, list):
                return [resolve(item) for item in value]
            if isinstance(value, str) and value.startswith("@"):
                return str(people[value[1:]].pk)
            if isinstance(value, str) and value.startswith("{") and ids:
                return value.format(**ids)
            return value

        data = {key: resolve(value) for key, value in self.data.items()}
        return Route(**{**self.__dict__, "data": data})

    def call(self, client, **ids: Any):  # type: ignore[no-untyped-def]
        path = self.path.format(**ids)
        method = getattr(client, self.method.lower())
        if self.method == "GET":
            return method(path)
        if self.api:
            return method(path, data=json.dumps(self.data), content_type="application/json")
        return method(path, data=self.data)


def cases(routes: list[Route]) -> list[tuple[Route, str]]:
    return [(route, persona) for route in routes for persona in PERSONAS]


def case_id(value: Any) -> str:
    return value.name if isinstance(value, Route) else str(value)


def check_route(route: Route, client, people: dict[str, Any], ids: dict[str, Any]) -> list[str]:  # type: ignore[no-untyped-def]
    """Call the route as every persona, each inside a savepoint rolled back afterwards.

    Returns the mismatches ("persona: expected X, got Y"), and any refused write that
    left an audit event behind.
    """
    from django.db import transaction

    from governance.models import AuditEvent

    mismatches = []
    route = route.with_people(people, ids)
    for persona in PERSONAS:
        with transaction.atomic():
            client.logout()
            if persona != "anonymous":
                client.force_login(people[persona])
            events_before = AuditEvent.objects.count()
            response = route.call(client, **ids)
            # A streamed answer (an evidence pack) holds its database snapshot open until its
            # last byte: read here, inside this savepoint, never left for the garbage
            # collector to close in the middle of another request's query.
            streamed = b"".join(response.streaming_content) if response.streaming else None
            body = (streamed if streamed is not None else response.content)[:160]
            expected = route.expected(persona)
            if response.status_code != expected:
                mismatches.append(
                    f"{persona}: expected {expected}, got {response.status_code} {body!r}"
                )
            refused = persona not in route.allowed
            if refused and route.method != "GET" and AuditEvent.objects.count() != events_before:
                mismatches.append(f"{persona}: a refused request changed state")
            transaction.set_rollback(True)
    return mismatches

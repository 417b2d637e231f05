"""Schemathesis against the API's own OpenAPI schema, as every persona, over every operation.

Each generated request (valid and invalid input alike) is sent to the WSGI app in-process,
authenticated by HTTP Basic as each persona in turn (the alert intake: by the system's alert
token). Whatever it sends, the API must answer:

- never a 5xx;
- every 4xx as JSON (Content-Type application/json, a body that parses);
- only status codes the schema documents, each with a body and Content-Type that conform
  to it (the common errors are documented by governance/api/schema.py);
- a refused or invalid request changes nothing (no audit event is written).

The bounded run (`make test`) draws FUZZ_EXAMPLES (default 3) examples per operation and
persona, derandomized, so CI sees the same cases every time; `make fuzz` raises the count.

Database: pytest-django's `db`, not `transactional_db`, on purpose. Nothing ever commits: the
world is built once per module inside an outer transaction, each request runs in a savepoint
rolled back afterwards (every case starts from the same world, and a case that registers,
approves or revokes cannot change what the next one sees), and the Celery tasks services
schedule with `transaction.on_commit` are never sent to the suite's broker.

Lockout: the personas always send their right password, and a successful Basic sign-in
clears the failures of that username and address (LockoutBasicAuthentication); any
AccessAttempt row a request writes is rolled back with its savepoint besides. Schemathesis
is told not to generate credentials of its own (`with-security-parameters = false`).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import PASSWORD
from tests.matrix import ROLE_HOLDERS

if TYPE_CHECKING:
    from django.contrib.auth.models import User

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))

# Every role on the system, and a signed-in user holding none (who must get 404s, not 500s).
PERSONAS = [*ROLE_HOLDERS, "outsider"]
USERNAMES = {
    "owner": "registrar",
    "release_manager": "ravi",
    "model_owner": "mona",
    "rollback_owner": "rob",
    "oncall_lead": "olga",
    "responder": "rhea",
    "compliance": "carl",
    "viewer": "vic",
    "outsider": "charlie",
}
ALERT_INTAKE = r"^/api/alerts/"

# Real ids and slugs for the path parameters, per path prefix; filled in by `world`.
REAL: dict[str, dict[str, list[Any]]] = {}


def _load_schema() -> Any:
    """The schema drf-spectacular serves at /api/schema/, generated in-process."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = SchemaGenerator().get_schema(request=None, public=True)
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            # Explicit examples and fuzzing; the coverage phase's exhaustive boundary cases
            # would cost minutes per persona (stateful testing needs a running server).
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(raw)), config=config
    )
    schema.app = _app
    return schema


def _app(environ: dict[str, Any], start_response: Any) -> Any:
    """Django's WSGI handler, as config/wsgi.py builds it (without its gc.freeze(), which
    is for a server process), made on first use: by then the static files are collected."""
    global _handler
    if _handler is None:
        _handler = WSGIHandler()
    return _handler(environ, start_response)


_handler: WSGIHandler | None = None
schema = _load_schema()


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Mostly real objects of the world (so the operations do more than 404), sometimes what
    schemathesis generated (unknown and malformed ids must be a JSON 4xx too)."""
    if not path_parameters:
        return st.just(path_parameters)
    path = context.operation.path
    real = next((names for prefix, names in REAL.items() if path.startswith(prefix)), {})
    real = {name: values for name, values in real.items() if name in path_parameters}
    if not real:
        return st.just(path_parameters)
    chosen = st.fixed_dictionaries(
        {name: st.sampled_from(values) for name, values in real.items()}
    ).map(lambda values: {**path_parameters, **values})
    return st.integers(0, 3).flatmap(lambda n: st.just(path_parameters) if n == 3 else chosen)


def client_errors_are_json(ctx: Any, response: Any, case: Any) -> None:
    """A 4xx tells the caller what was wrong, as JSON: never an HTML page or an empty body."""
    if not 400 <= response.status_code < 500:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/json", (
        f"{response.status_code} with Content-Type {content_type!r}: {response.content[:200]!r}"
    )
    try:
        json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{response.status_code} body is not JSON: {error}") from None


CHECKS = [
    not_a_server_error,
    client_errors_are_json,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
]


def _user(username: str) -> User:
    from tests.factories import UserFactory

    return cast("User", UserFactory(username=username))


def build_world() -> dict[str, Any]:
    """Every persona holding its role on `fraud`, releases in every state, a release live in
    production, a proposed rollback, an open incident with a containment: built through the
    services, as the fixtures of tests/conftest.py and tests/fixtures/releases.py do."""
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.models import AuditEvent
    from governance.roles import Role
    from incidents import services as incidents
    from incidents.services.tokens import create_alert_token
    from releases import services
    from releases.services import rollbacks
    from tests.conftest import PERSONA_ROLES
    from tests.fixtures.releases import CARD, go_live, pass_every_gate, rollbacks_held, stack

    add_system = Permission.objects.get(
        codename="add_aisystem", content_type__app_label="governance"
    )
    registrar = _user(USERNAMES["owner"])
    registrar.user_permissions.add(add_system)
    fraud = governance.create_system(
        actor=registrar,
        name="Card fraud screening",
        slug="fraud",
        intended_purpose="Scores card payments.",
        risk_category="high",
    )
    stranger = _user("stranger")
    stranger.user_permissions.add(add_system)
    governance.create_system(
        actor=stranger,
        name="Hidden system",
        slug="hidden",
        intended_purpose="Nobody here may see it.",
        risk_category="minimal",
    )
    people = {"owner": registrar}
    for persona, role in PERSONA_ROLES.items():
        if persona == "owner":
            continue
        people[persona] = _user(USERNAMES[persona])
        governance.grant_role(actor=registrar, system=fraud, role=role, user=people[persona])
    people["outsider"] = _user(USERNAMES["outsider"])
    second = _user("rita")
    governance.grant_role(actor=registrar, system=fraud, role=Role.RELEASE_MANAGER, user=second)
    author, manager = people["model_owner"], people["release_manager"]

    production = services.create_environment(
        actor=registrar, system=fraud, name="Production", is_production=True
    )
    staging = services.create_environment(actor=registrar, system=fraud, name="Staging")

    def release(version: str, *, gates: bool = True, submit: bool = False, approve: bool = False):  # type: ignore[no-untyped-def]
        made = services.create_release(
            actor=author, system=fraud, version=version, title=f"Fraud model {version}",
            card=CARD, components=stack(version), change_categories=["major_dataset_refresh"],
        )  # fmt: skip
        if gates:
            pass_every_gate(made, author)
            services.save_rollback_plan(
                actor=author, release=made, environment=production,
                owners=[people["rollback_owner"]], mode="auto_propose", cooldown_minutes=30,
                triggers=[{"metric": "review_rate", "comparison": "gt", "threshold": "2.5",
                           "window_minutes": 15}],
            )  # fmt: skip
        if submit:
            services.submit_release(actor=author, release=made)
        if approve:
            for approver in (manager, second):
                services.record_approval(
                    actor=approver, release=made, decision="approve", comment="ok"
                )
        made.refresh_from_db()
        return made

    earlier = release("0.9.0", submit=True, approve=True)
    go_live(earlier, manager, production)
    live = release("1.0.0", submit=True, approve=True)
    go_live(live, manager, production)
    approved = release("2.0.0", submit=True, approve=True)
    submitted = release("3.0.0", submit=True)
    ready = release("4.0.0")
    draft = release("5.0.0", gates=False)

    # A proposed rollback (a trigger fired under auto_propose), for confirm and dismiss.
    with rollbacks_held():
        proposed, _created = rollbacks.request_rollback(
            actor=None, environment=production, reason="Review rate 3x",
            trigger={"metric": "review_rate", "value": "7.5"}, propose=True,
        )  # fmt: skip
    incident = incidents.declare_incident(
        actor=people["oncall_lead"], system=fraud, environment=production,
        title="Review rate tripled", severity="sev2", category="performance",
    )  # fmt: skip
    containment = incidents.request_containment(
        actor=people["responder"], incident=incident, kind="disable_feature", target="velocity"
    )
    _token, secret = create_alert_token(actor=registrar, system=fraud, name="Alertmanager")

    REAL.clear()
    REAL.update(
        {
            "/api/releases/": {"id": [draft.pk, ready.pk, submitted.pk, approved.pk, live.pk]},
            "/api/environments/": {"id": [production.pk, staging.pk]},
            "/api/rollbacks/": {"id": [proposed.pk]},
            "/api/incidents/": {"id": [incident.pk], "containment_id": [containment.pk]},
            "/api/audit-events/": {
                "id": list(AuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[:5])
            },
            "/api/systems/": {
                "slug": ["fraud", "fraud", "hidden"],
                "grant_id": list(fraud.role_grants.values_list("pk", flat=True)),
            },
        }
    )
    return {"alert_token": secret}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[dict[str, Any]]:
    """Built once for the module, in a transaction rolled back at its end."""
    from governance.evidence import sign

    # The request cycle must not close the test's connection: Django's own test client
    # disconnects the same receivers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    test_settings = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        # Evidence packs are signed: without a key the export is a (documented) 503.
        EVIDENCE_SIGNING_KEY=sign.generate_private_pem().decode(),
    )
    test_settings.enable()
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            yield build_world()
            transaction.set_rollback(True)
    finally:
        test_settings.disable()
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# `db` is not reset between examples, and needs not be: each request runs in a savepoint of
# its own, rolled back before the next example.
ONE_WORLD = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _send(case: Any, headers: dict[str, str]) -> Any:
    """Call the app in a savepoint rolled back afterwards; a refusal must leave no audit event."""
    from governance.models import AuditEvent

    with transaction.atomic():
        before = AuditEvent.objects.count()
        response = case.call(headers=headers)
        if 400 <= response.status_code < 500:
            written = AuditEvent.objects.count() - before
            assert written == 0, (
                f"{case.method} {case.formatted_path} answered {response.status_code} "
                f"but wrote {written} audit event(s)"
            )
        transaction.set_rollback(True)
    return response


@schema.exclude(path_regex=ALERT_INTAKE).parametrize()
@pytest.mark.parametrize("persona", PERSONAS)
@ONE_WORLD
def test_api_as_each_persona(case, persona, world, db):  # type: ignore[no-untyped-def]
    response = _send(case, _basic(USERNAMES[persona]))
    case.validate_response(response, checks=CHECKS)


@schema.include(path_regex=ALERT_INTAKE).parametrize()
@ONE_WORLD
def test_alert_intake(case, world, db):  # type: ignore[no-untyped-def]
    response = _send(case, {"Authorization": f"Bearer {world['alert_token']}"})
    case.validate_response(response, checks=CHECKS)

"""Schemathesis against the API's own OpenAPI schema, as every persona, over every operation.

Each generated request (valid and invalid input alike) is sent to the WSGI app in-process,
authenticated by HTTP Basic as each persona in turn, and with no credentials at all (the
alert intake: by the system's alert token). Every check schemathesis has runs on each
answer, and ours; the API must answer:

- never a 5xx;
- every 4xx as JSON (Content-Type application/json, a body that parses);
- only status codes the schema documents, each with a body, headers and Content-Type that
  conform to it (the common errors are documented by governance/api/schema.py);
- input the schema refuses (a wrong JSON type, an unknown choice, an empty or malformed
  query value, a query parameter the operation does not take) with a 4xx, never as if it
  had not been sent (negative_data_rejection); input it
  allows with a 2xx, or a 400 that says in words what the schema cannot (a slug naming no
  object, a state that forbids the change; positive_data_acceptance);
- without credentials, or with wrong ones, nothing but a 401 (ignored_auth); a method the
  operation lacks, a 405 with Allow (unsupported_method, allow_header_conformance);
- a refused or invalid request changes nothing (no audit event is written).

The bounded run (`make test`) draws FUZZ_EXAMPLES (default 5) examples per operation and
persona, derandomized, so CI sees the same cases every time; `make fuzz` raises the count.
Body fields that name objects (`environment`, `owners`, `system`…) get real ones half of
the time (`flatmap_body`), as path parameters do, so a request gets past "no such object".

Database: see tests/worlds/api.py (one world per module, a savepoint rolled back per request).

Lockout: the personas always send their right password, and a successful Basic sign-in
clears the failures of that username and address (LockoutBasicAuthentication); the wrong
credentials ignored_auth sends, and any AccessAttempt row a request writes, are rolled back
with the world. Schemathesis is told not to generate credentials of its own
(`with-security-parameters = false`).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as BUILT_IN_CHECKS
from schemathesis.checks import load_all_checks

from tests.matrix import ROLE_HOLDERS
from tests.worlds.api import REAL, USERNAMES, basic_auth

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))

# Every role on the system, a signed-in user holding none (who must get 404s, not 500s),
# and nobody: no credentials at all (401 everywhere, whatever the request holds).
PERSONAS = [*ROLE_HOLDERS, "outsider", "anonymous"]
ALERT_INTAKE = r"^/api/alerts/"


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
            # Input the schema allows may still be refused, in words, by what the schema
            # cannot say: a slug that names no environment, a state that forbids the change,
            # a URL of another scheme, NUL. That is the 400 every operation documents
            # (governance/api/schema.py); a 5xx stays a failure (not_a_server_error).
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "413", "429"]
                }
            },
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


def _conforms(parameters: Any, values: dict[str, Any]) -> bool:
    """Whether each generated value conforms to its parameter's schema: only then may a real
    object stand in for it, or a negative case would become a valid one."""
    by_name = {parameter.name: parameter for parameter in parameters}
    return all(name not in by_name or by_name[name].is_valid(v) for name, v in values.items())


def _body_conforms(operation: Any, body: dict[str, Any]) -> bool:
    return any(
        component.media_type == "application/json" and component.is_valid(body)
        for component in operation.body
    )


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Mostly real objects of the world (so the operations do more than 404), sometimes what
    schemathesis generated (unknown and malformed ids must be a JSON 4xx too)."""
    if not path_parameters or not _conforms(context.operation.path_parameters, path_parameters):
        return st.just(path_parameters)  # a negative case's values stay as generated
    path = context.operation.path
    real = next((names for prefix, names in REAL.items() if path.startswith(prefix)), {})
    real = {name: values for name, values in real.items() if name in path_parameters}
    if not real:
        return st.just(path_parameters)
    chosen = st.fixed_dictionaries(
        {name: st.sampled_from(values) for name, values in real.items()}
    ).map(lambda values: {**path_parameters, **values})
    return st.integers(0, 3).flatmap(lambda n: st.just(path_parameters) if n == 3 else chosen)


# Real values for the body fields that name objects of the world, so that a generated body
# gets past "no such environment" to the code behind it (how a missing optional field is
# found: PUT rollback-plan without `cooldown_minutes` was a 500 only with a real environment
# and real owners). Each field keeps what schemathesis generated half of the time.
REAL_FIELDS: dict[str, list[Any]] = {
    "system": ["fraud", "hidden"],
    "environment": ["production", "staging"],
    "owners": [["rob"], ["rob", "vic"]],
    "user": ["vic", "rob"],
    "target_release": ["0.9.0", "1.0.0"],
    "to_release": ["0.9.0"],
}


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict) or not _body_conforms(context.operation, body):
        return st.just(body)  # a negative case's values stay as generated
    named = [name for name in REAL_FIELDS if name in body]
    if not named:
        return st.just(body)
    chosen = st.fixed_dictionaries(
        {name: st.one_of(st.just(body[name]), st.sampled_from(REAL_FIELDS[name])) for name in named}
    )
    return chosen.map(lambda values: {**body, **values})


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


load_all_checks()
# Every check schemathesis has (the stateful ones, use_after_free and the like, look at the
# responses of a sequence of calls and pass over single ones), and ours.
CHECKS = [*BUILT_IN_CHECKS.get_all(), client_errors_are_json]


# `db` is not reset between examples, and needs not be: each request runs in a savepoint of
# its own, rolled back before the next example.
ONE_WORLD = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


# Per persona: responses, 5xx among them, and failed checks; written for the closing note of
# a run (test-artifacts/api-fuzz-totals.json) and shown at the end of the module.
TOTALS: dict[str, Counter[str]] = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def totals(artifacts_dir: Path) -> Iterator[None]:
    yield
    (artifacts_dir / "api-fuzz-totals.json").write_text(
        json.dumps({"examples": EXAMPLES, "personas": TOTALS}, indent=2) + "\n"
    )
    for persona, counts in TOTALS.items():
        print(f"\n{persona}: {dict(counts)}", end="")


def _send_and_check(case: Any, headers: dict[str, str], persona: str) -> None:
    """Call the app and run the checks in a savepoint rolled back afterwards (the checks call
    it again: without credentials, with wrong ones, with another method); a refusal must
    leave no audit event."""
    from governance.models import AuditEvent

    with transaction.atomic():
        before = AuditEvent.objects.count()
        response = case.call(headers=headers)
        TOTALS[persona]["responses"] += 1
        TOTALS[persona]["5xx"] += response.status_code >= 500
        if 400 <= response.status_code < 500:
            written = AuditEvent.objects.count() - before
            assert written == 0, (
                f"{case.method} {case.formatted_path} answered {response.status_code} "
                f"but wrote {written} audit event(s)"
            )
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception:  # schemathesis' FailureGroup, or an assertion
            TOTALS[persona]["failed checks"] += 1
            raise
        finally:
            transaction.set_rollback(True)


@schema.exclude(path_regex=ALERT_INTAKE).parametrize()
@pytest.mark.parametrize("persona", PERSONAS)
@ONE_WORLD
def test_api_as_each_persona(case, persona, api_world, db):  # type: ignore[no-untyped-def]
    headers = {} if persona == "anonymous" else basic_auth(USERNAMES[persona])
    _send_and_check(case, headers, persona)


@schema.include(path_regex=ALERT_INTAKE).parametrize()
@ONE_WORLD
def test_alert_intake(case, api_world, db):  # type: ignore[no-untyped-def]
    _send_and_check(case, {"Authorization": f"Bearer {api_world['alert_token']}"}, "alert token")

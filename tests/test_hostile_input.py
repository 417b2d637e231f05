"""Hostile input is a 4xx, never a 5xx, and changes nothing: on every API operation, every form.

Every operation of the OpenAPI schema gets, in each of its body fields and query parameters,
the values a security tester sends first: NUL, a lone surrogate, impossible dates, numbers
beyond any column, a 100,000-character string, the wrong types; and JSON nested 10,000
deep as the whole body. Every form page of the role matrix (tests/route_matrix.py) gets the
same in each of its fields and in the query. Whatever the answer, it is not a 5xx; on the API
a 4xx is JSON; and a refused request wrote no audit event.

What answers it is one place per layer: the API's parsers (governance/api/parsers.py) and
exception handler (governance/api/errors.py), the filter backend (governance/api/filtering.py),
and for pages config.errors.RefuseUnusableInput; config.errors.refused_input says what
counts as an error of the input.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client

from tests.worlds.api import REAL, USERNAMES, basic_auth

DEEP = "[" * 10_000 + "]" * 10_000
LONG = "x" * 100_000
# Each is put in every field at once (and every query parameter).
VALUES: dict[str, Any] = {
    "nul": "a\x00b",
    "lone surrogate": "\ud800",
    "impossible date": "2026-13-45T00:00:00Z",
    "year zero": "0000-01-01T00:00:00Z",
    "huge number": 10**30,
    "huge float": 1e308,
    "long string": LONG,
    "a list": ["a\x00", {"b": None}],
    "an object": {"a": [1, "\x00"]},
    "a boolean": True,
    "null": None,
}
WHOLE_BODIES: dict[str, str] = {
    "10,000 deep": DEEP,
    "10,000 deep in a field": '{"name": ' + DEEP + "}",
    "a list": "[]",
    "a string": '"x"',
    "a number": "1e400",
    "NaN": "NaN",
    "not JSON": "{",
}
QUERY_VALUES = {
    "nul": "a%00b",
    "lone surrogate": "%ED%A0%80",
    "impossible date": "2026-13-45T00:00:00Z",
    "year zero": "0000-01-01",
    "huge number": "1" + "0" * 30,
    "long string": "x" * 5_000,
    "banana": "banana",
}


def _schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))  # type: ignore[no-any-return]


SCHEMA = _schema()


def _operation(method: str, path: str) -> dict[str, Any]:
    return SCHEMA["paths"][path][method.lower()]  # type: ignore[no-any-return]


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = SCHEMA
    components = schema["components"]["schemas"]
    operations = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            fields: list[str] = []
            if body:
                reference = body["schema"].get("$ref", "")
                fields = list(
                    components.get(reference.rsplit("/", 1)[-1], {}).get("properties", {})
                )
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            operations.append(
                (method.upper(), path, {"body": body is not None, "fields": fields, "query": query})
            )
    return operations


OPERATIONS = _operations()
BODY_OPERATIONS = [op for op in OPERATIONS if op[2]["body"]]
QUERY_OPERATIONS = [op for op in OPERATIONS if op[2]["query"]]


def _path(path: str) -> str:
    """The path with the world's first real object for each parameter."""
    real = next((names for prefix, names in REAL.items() if path.startswith(prefix)), {})
    for name, values in real.items():
        path = path.replace("{" + name + "}", str(values[0]))
    return (
        path.replace("{key}", "who-approved")
        .replace("{slug}", "fraud")
        .replace("{hook}", "confirm-promotion")
    )


SUPERUSER = "root"


@pytest.fixture(scope="module")
def sweep_world(api_world, django_db_blocker):
    """The world, and a superuser: every permission check lets it through, so the hostile
    values reach the validation and the services of every operation, not only a 403."""
    from tests.factories import UserFactory

    with django_db_blocker.unblock():
        UserFactory(username=SUPERUSER, is_superuser=True, is_staff=True)
    return api_world


def _headers(path: str, built: dict[str, Any], username: str = SUPERUSER) -> dict[str, str]:
    if path.startswith("/api/alerts/"):
        return {"HTTP_AUTHORIZATION": f"Bearer {built['alert_token']}"}
    return {"HTTP_AUTHORIZATION": basic_auth(username)["Authorization"]}


def _call(method: str, path: str, headers: dict[str, str], body: str | None = None) -> Any:
    """In a savepoint rolled back afterwards; a refusal must have written no audit event."""
    from governance.models import AuditEvent

    client = Client(raise_request_exception=False)
    with transaction.atomic():
        before = AuditEvent.objects.count()
        kwargs: dict[str, Any] = dict(headers)
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        response = getattr(client, method.lower())(path, **kwargs)
        written = AuditEvent.objects.count() - before if response.status_code >= 400 else 0
        transaction.set_rollback(True)
    return response, written


def _problems(method: str, path: str, what: str, response: Any, written: int) -> list[str]:
    problems = []
    status = response.status_code
    if status >= 500:
        problems.append(f"{method} {path} with {what}: {status}")
    elif status >= 400 and response.get("Content-Type", "").split(";")[0] != "application/json":
        problems.append(f"{method} {path} with {what}: {status} as {response['Content-Type']}")
    if written:
        problems.append(f"{method} {path} with {what}: {status} but wrote {written} event(s)")
    return problems


# ---- the API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "shape"), BODY_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in BODY_OPERATIONS]
)
def test_every_body_field_takes_hostile_values_without_a_5xx(sweep_world, db, method, path, shape):
    target, headers, problems = _path(path), _headers(path, sweep_world), []
    fields = shape["fields"] or ["name"]
    for name, value in VALUES.items():
        body = json.dumps({field: value for field in fields})  # \ud800 stays an escape
        problems += _problems(method, target, name, *_call(method, target, headers, body))
    for name, body in WHOLE_BODIES.items():
        problems += _problems(method, target, name, *_call(method, target, headers, body))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("method", "path", "shape"), QUERY_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in QUERY_OPERATIONS]
)
def test_every_query_parameter_takes_hostile_values_without_a_5xx(
    sweep_world, db, method, path, shape
):
    target, headers, problems = _path(path), _headers(path, sweep_world), []
    for name, value in QUERY_VALUES.items():
        query = "&".join(f"{parameter}={value}" for parameter in shape["query"])
        problems += _problems(
            method, f"{target}?{query}", name, *_call(method, f"{target}?{query}", headers)
        )
    assert not problems, "\n".join(problems)


WRITE_OPERATIONS = [
    op
    for op in OPERATIONS
    # Monitoring's and MLflow's doors take no person: a token or a signature decides. Flagger
    # asks the deployment gate by POST, a question any role may ask, not a write.
    if op[0] in ("POST", "PUT", "PATCH", "DELETE")
    and not op[1].startswith(("/api/alerts/", "/api/intake/"))
    and "/gate/flagger/" not in op[1]
]


@pytest.mark.parametrize(
    ("method", "path", "shape"), WRITE_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in WRITE_OPERATIONS]
)
def test_every_write_action_checks_access_before_reading_the_body(
    api_world,
    db,
    method,
    path,
    shape,
):
    """A viewer may see every object of `fraud` and act on none; an outsider sees none. Their
    bad bodies must not be read: the answer is 403 (or 404), whatever the body holds."""
    target = _path(path)
    on_one_object = "{" in path
    for username, expected in (("viewer", 403), ("outsider", 404 if on_one_object else 403)):
        headers = _headers(path, api_world, USERNAMES[username])
        for body in ("{", '{"name": "a\\u0000b"}', DEEP):
            response, written = _call(method, target, headers, body)
            assert (response.status_code, written) == (expected, 0), (
                username,
                method,
                target,
                response.content[:200],
            )


@pytest.mark.parametrize("username", [SUPERUSER, USERNAMES["viewer"], USERNAMES["outsider"]])
def test_json_nested_10000_deep_is_a_4xx_on_every_json_endpoint(sweep_world, db, username):
    for method, path, _shape in BODY_OPERATIONS:
        if path.startswith("/api/intake/"):
            continue  # signed over the body: tests/releases/test_intake.py sends it signed
        response, _ = _call(method, _path(path), _headers(path, sweep_world, username), DEEP)
        # 403/404 where access is checked first (a viewer's, an outsider's), else 400
        assert response.status_code in (400, 403, 404), (method, path, response.content[:200])
        if response.status_code == 400:
            assert "nests deeper than 32 levels" in response.json()["detail"], (method, path)


def test_json_nested_beyond_the_bound_is_refused_and_within_it_read(sweep_world, db):
    headers = _headers("/api/systems/", sweep_world)
    deep = json.dumps({"name": "x", "risk_category": "minimal", "intended_purpose": [[[["x"]]]]})
    assert _call("POST", "/api/systems/", headers, deep)[0].status_code == 400  # a type error
    too_deep = '{"name": ' + "[" * 32 + "]" * 32 + "}"
    response, _ = _call("POST", "/api/systems/", headers, too_deep)
    assert response.json() == {"detail": "The body nests deeper than 32 levels."}


@pytest.mark.parametrize(
    ("text", "message"),
    [("a\x00b", "NUL"), ("\ud800", "lone surrogate")],
    ids=["nul", "lone surrogate"],
)
def test_unstorable_text_anywhere_in_a_body_is_a_400_that_names_it(sweep_world, db, text, message):
    headers = _headers("/api/systems/", sweep_world)
    body = json.dumps({"name": "Churn", "risk_category": "minimal", "extra": {"deep": [text]}})
    response, _ = _call("POST", "/api/systems/", headers, body)
    assert response.status_code == 400
    [said] = response.json()["extra"]  # by the top-level field it is in
    assert message in said


def test_a_body_over_the_upload_limit_is_a_413_json(sweep_world, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = Client(raise_request_exception=False)
    headers = _headers("/api/systems/", sweep_world)
    body = json.dumps({"name": "x" * 2000})

    response = client.post("/api/systems/", body, content_type="application/json", **headers)

    assert response.status_code == 413
    assert response.json() == {"detail": "The body is larger than the 1000 bytes accepted."}


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_a_body_that_is_not_json_is_a_415_json(sweep_world, db, content_type):
    """A form's values are all text: the API would have to guess which were numbers."""
    client = Client(raise_request_exception=False)
    body = "name=Churn&risk_category=minimal&intended_purpose=x"

    response = client.post(
        "/api/systems/", body, content_type=content_type, **_headers("/api/systems/", sweep_world)
    )

    assert response.status_code == 415
    assert response["Content-Type"] == "application/json"
    assert "Unsupported media type" in response.json()["detail"]


@pytest.mark.parametrize(
    "credentials",
    [b"regis\x00trar:password", b"registrar:pass\x00word", b"\x00:\x00"],
    ids=["username", "password", "both"],
)
def test_a_nul_in_basic_credentials_is_a_401_before_any_query(
    api_world,
    db,
    django_assert_num_queries,
    credentials,
):
    client = Client(raise_request_exception=False)
    header = "Basic " + base64.b64encode(credentials).decode()

    with django_assert_num_queries(0):
        response = client.get("/api/systems/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}


@pytest.mark.parametrize(
    "query",
    [
        "/api/incidents/?open=banana",
        "/api/environments/?is_production=banana",
        "/api/rollbacks/?is_drill=maybe",
        "/api/incidents/?severity=sev9",
        "/api/systems/?risk_category=banana",
    ],
)
def test_a_filter_value_that_cannot_be_read_is_a_400(sweep_world, db, query):
    response, _ = _call("GET", query, _headers(query, sweep_world))

    assert response.status_code == 400, response.content
    assert quote(query.split("?")[1].split("=")[0]) in response.json()


@pytest.mark.parametrize("value", ["true", "false", "True", "0", "1"])
def test_a_boolean_filter_reads_true_and_false(sweep_world, db, value):
    assert (
        _call("GET", f"/api/incidents/?open={value}", _headers("/api/", sweep_world))[0].status_code
        == 200
    )


@pytest.mark.parametrize(
    "header",
    [b"Bearer fsk_\x00", b"Bearer \xff\xfe", b"Basic \x00", b"Basic bm90IGJhc2U2NA=="],
    ids=["nul token", "not utf-8", "nul basic", "no colon"],
)
def test_a_malformed_credential_is_a_401(sweep_world, db, header):
    response, _ = _call("GET", "/api/systems/", {"HTTP_AUTHORIZATION": header.decode("latin-1")})

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "body", "field", "said"),
    [
        ("/api/rollbacks/{id}/dismiss/", {"reason": 80617451}, "reason", "text, not a number"),
        ("/api/systems/", {"name": ["x"]}, "name", "text, not a list"),
        ("/api/releases/{id}/promotions/", {"traffic_percent": True}, "traffic_percent",
         "a number, not true or false"),
        ("/api/environments/", {"is_production": "true"}, "is_production",
         "true or false, not text"),
        ("/api/incidents/{id}/action-items/", {"title": {"a": 1}}, "title", "text, not an object"),
        ("/api/releases/{id}/rollback-plan/", {"cooldown_minutes": "30"}, "cooldown_minutes",
         "a whole number, not text"),
        ("/api/releases/{id}/rollback-plan/", {"owners": ["rob", 7]}, "owners",
         "Item 1: must be text, not a number"),
        ("/api/systems/", {"nmae": "Churn"}, "nmae", "Not a field of this operation"),
        ("/api/incidents/{id}/rollback/", {"to_release": "0.9.0"}, "to_release",
         "Not a field of this operation"),  # the plan's target: an incident's takes no other
    ],
)  # fmt: skip
def test_a_body_field_of_another_type_or_name_than_documented_is_a_400_naming_it(
    sweep_world,
    db,
    path,
    body,
    field,
    said,
):
    """DRF would coerce each of these (80617451 to "80617451", "true" to True, "30" to 30)."""
    target = _path(path)
    method = "PUT" if path.endswith("rollback-plan/") else "POST"
    response, written = _call(method, target, _headers(target, sweep_world), json.dumps(body))

    assert (response.status_code, written) == (400, 0), response.content
    assert said in " ".join(response.json()[field])


def test_a_decimal_may_be_a_number_or_its_string(sweep_world, db):
    for threshold in (2.5, "2.5", 3):
        body = {
            "environment": "production", "owners": ["rob"], "mode": "auto_propose",
            "triggers": [{"metric": "review_rate", "comparison": "gt", "threshold": threshold,
                          "window_minutes": 15}],
        }  # fmt: skip
        target = _path("/api/releases/{id}/rollback-plan/")
        response, _ = _call("PUT", target, _headers(target, sweep_world), json.dumps(body))
        assert response.status_code == 200, (threshold, response.content)


@pytest.mark.parametrize(
    "query",
    [
        "/api/incidents/?sytem=fraud",
        "/api/incidents/1/timeline/?after=0&before=9",
        "/api/systems/?limit=5&ordering=name",
        "/api/releases/approval-queue/?status=draft",
        "/api/audit-events/?format=json&page=2",
    ],
)
def test_a_query_parameter_the_operation_does_not_take_is_a_400_naming_it(sweep_world, db, query):
    if "/1/" in query:
        query = query.replace("/1/", f"/{REAL['/api/incidents/']['id'][0]}/")
    response, _ = _call("GET", query, _headers(query, sweep_world))

    assert response.status_code == 400, response.content
    [unknown] = response.json()
    assert unknown in ("sytem", "before", "ordering", "status", "page")
    assert "Not a parameter of this operation" in response.json()[unknown][0]


def test_the_schema_documents_400_on_every_operation():
    for method, path, _shape in OPERATIONS:
        assert "400" in _operation(method, path)["responses"], (method, path)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("/api/environments/?system=fraud", 2),
        ("/api/environments/?system=hidden", 0),
        ("/api/environments/?system__slug=fraud", 2),
        ("/api/rollbacks/?system=fraud", 1),
        ("/api/rollbacks/?system=hidden", 0),
    ],
)
def test_every_list_filters_by_system_under_one_name(sweep_world, db, query, count):
    """`?system=` on environments was once silently ignored (only `system__slug` existed)."""
    response, _ = _call("GET", query, _headers(query, sweep_world))

    assert response.status_code == 200, response.content
    assert response.json()["count"] == count

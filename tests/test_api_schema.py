"""The OpenAPI schema generates without a single warning, and validates."""

from __future__ import annotations

import json

from django.core.management import call_command


def test_the_schema_has_no_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/releases/{id}/approvals/" in target.read_text()


def test_every_operation_documents_its_errors_and_their_shape(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    error = {"$ref": "#/components/schemas/Error"}
    operations = [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert operations
    for method, path, operation in operations:
        expected = {"401", "403", "404"} | ({"400"} if method != "get" else set())
        responses = operation["responses"]
        assert expected <= responses.keys(), f"{method} {path}"
        assert all("content" in responses[status] for status in expected), f"{method} {path}"
    refused = schema["paths"]["/api/incidents/{id}/publish/"]["post"]["responses"]["403"]
    assert refused["content"]["application/json"]["schema"] == error
    # An operation's own words stay: the evidence questions say which input they refuse.
    asked = schema["paths"]["/api/systems/{slug}/evidence/questions/{key}/"]["get"]["responses"][
        "400"
    ]
    assert "Input the question cannot use" in asked["description"]


def test_the_limits_the_lockout_and_the_body_limit_are_documented_where_they_answer(tmp_path):
    """429 everywhere (the rate limits, with Retry-After), naming the sign-in lockout too
    wherever HTTP Basic is a way in; 413 wherever there is a body; neither the lockout nor
    413 where they cannot happen (the alert intake takes no Basic; a GET has no body)."""
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation["responses"]
            basic = any("basicAuth" in way for way in operation.get("security", []))
            assert ("413" in responses) == ("requestBody" in operation), f"{method} {path}"
            throttled = responses["429"]
            assert throttled["content"]["application/json"]["schema"] == error
            assert "Retry-After" in throttled["headers"], f"{method} {path}"
            assert ("sign-in lockout" in throttled["description"]) == basic, f"{method} {path}"
    intake = schema["paths"]["/api/alerts/"]["post"]["responses"]
    assert "rate limit" in intake["429"]["description"]
    assert "413" in schema["paths"]["/api/alerts/"]["post"]["responses"]

"""The OpenAPI schema documents the errors every operation may answer, as they are shaped:
401, 403, 404 and 400 everywhere (any operation refuses a query parameter it does not take);
413 and 415 where there is a body;
429 everywhere (the rate limits, governance/api/throttling.py), and where HTTP Basic is a way
in, the sign-in lockout's answer too.

Operations that document an error themselves (the evidence questions say which input they
refuse) keep their own words; the rest get the common ones, so a client generated from the
schema knows a 403 or a 404 is an answer, not a surprise.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

ERROR_SCHEMA = "Error"
ERROR = {
    "type": "object",
    "description": (
        "`detail` says why a request was refused or could not be read. For invalid input, "
        "the messages are by field instead (`non_field_errors` for the input as a whole), "
        'e.g. {"reason": ["Say why: it goes to the timeline and the audit trail."]}.'
    ),
    "properties": {
        "detail": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
    },
    "additionalProperties": True,
}
REFUSED = {
    "401": "No credentials, or ones that are not valid (a revoked or expired token).",
    "403": "Your roles on the system do not allow this.",
    "404": "No such object, or not one of a system you may see (named in the path or the body).",
}
INVALID = (
    "Input the operation cannot use, by field (a query parameter it does not take, too), or "
    "a state of the object that does not allow it, in words (`detail`)."
)
UNREADABLE = (
    "A body the operation cannot read: a Content-Type other than those of its request body "
    "(or none)."
)
THROTTLED = (
    "Too many requests: past the rate limit of your API token, your account, your address "
    "or the alert token (`detail` says which, and the limit). `Retry-After` says in how "
    "many seconds to try again."
)
LOCKED_OUT = (
    " Or too many failed HTTP Basic sign-ins for this username from your address (the "
    "sign-in lockout), until it ends."
)
TOO_LARGE = "A body larger than the {limit} bytes the API reads (DATA_UPLOAD_MAX_MEMORY_SIZE)."
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the limit, or the lockout, lets a request through",
        "schema": {"type": "integer"},
    }
}
BASIC_AUTH = "basicAuth"  # LockoutBasicScheme's name: the way in the lockout guards
HTTP_METHODS = ("get", "put", "patch", "post", "delete")


def document_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the common error answers of each operation."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA] = ERROR
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    for path_item in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if operation is not None:
                _document(method, operation, reference)
    return result


def _document(method: str, operation: dict[str, Any], reference: dict[str, str]) -> None:
    errors = dict(REFUSED)
    errors["400"] = INVALID  # a service refuses a change; a filter a bad value; any, a stray name
    if "requestBody" in operation:  # DRF answers 415 before any parser reads the body
        errors["415"] = UNREADABLE
        errors["413"] = TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    errors["429"] = THROTTLED  # every operation counts against a rate limit
    if any(BASIC_AUTH in requirement for requirement in operation.get("security", [])):
        errors["429"] += LOCKED_OUT
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        documented = responses.setdefault(status, {"description": description})
        documented.setdefault("content", {"application/json": {"schema": reference}})
    responses["429"].setdefault("headers", RETRY_AFTER)


def request_bodies(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: request bodies as governance/api/types.py reads
    them. No key but the documented fields (`additionalProperties: false`); a decimal may be
    a JSON number (`0.912`) or the string DRF answers with (`"0.912000"`). Answers keep the
    string, exact to the stored places."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST's request components
            continue
        if component.get("type") == "object" and "properties" in component:
            component["additionalProperties"] = False
        for field, schema in component.get("properties", {}).items():
            if schema.get("format") == "decimal" and schema.get("type") == "string":
                nullable = schema.pop("nullable", False)
                component["properties"][field] = {
                    "oneOf": [{"type": "number"}, schema],
                    **({"nullable": True} if nullable else {}),
                }
    return result

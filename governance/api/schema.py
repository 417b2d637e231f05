"""The OpenAPI schema documents the errors every operation may answer, as they are shaped.

Operations that document an error themselves (the evidence questions say which input they
refuse) keep their own words; the rest get the common ones, so a client generated from the
schema knows a 403 or a 404 is an answer, not a surprise.
"""

from __future__ import annotations

from typing import Any

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
    "Input the operation cannot use, by field, or a state of the object that does not allow "
    "it, in words (`detail`)."
)
UNREADABLE = (
    "A body the operation cannot read: a Content-Type other than those of its request body "
    "(or none)."
)
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
    reads_query = any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
    if method != "get" or reads_query:  # a service refuses a change; a filter, a bad value
        errors["400"] = INVALID
    if "requestBody" in operation:  # DRF answers 415 before any parser reads the body
        errors["415"] = UNREADABLE
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        documented = responses.setdefault(status, {"description": description})
        documented.setdefault("content", {"application/json": {"schema": reference}})

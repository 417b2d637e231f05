"""An API query parameter the operation does not document is refused (400), never ignored.

A client that misspells a filter (`?sytem=fraud`) or sends one an operation does not take
would otherwise get the unfiltered answer and believe it filtered. The schema drf-spectacular
generates is the one list of what each operation reads (filters, pagination, an action's own
parameters): `DocumentedQueryOnly`, one of the API's default permission classes, so checked
after authentication and access, refuses any other name. The schema is generated once per
process, on the first request that has a query.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

# DRF's own: which renderer answers (`?format=json`), on every operation.
ALWAYS = frozenset({settings.REST_FRAMEWORK.get("URL_FORMAT_OVERRIDE", "format")})


@functools.cache
def _documented() -> tuple[tuple[re.Pattern[str], str, frozenset[str]], ...]:
    """(path pattern, method, query parameter names) of every operation in the schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, item in schema["paths"].items():
        pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + r"\Z")
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            operations.append((pattern, method.upper(), frozenset(names)))
    # A literal path before one with parameters: /incidents/metrics/ is not /incidents/{id}/.
    operations.sort(key=lambda operation: operation[0].pattern.count("[^/]+"))
    return tuple(operations)


def documented_query(path: str, method: str) -> frozenset[str] | None:
    """The query parameters the operation at `path` documents (None: no such operation)."""
    method = "GET" if method == "HEAD" else method
    for pattern, documented_method, names in _documented():
        if documented_method == method and pattern.match(path):
            return names
    return None


class DocumentedQueryOnly(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.query_params:
            return True
        documented = documented_query(request.path_info, request.method or "GET")
        if documented is None:  # OPTIONS, or a route the schema leaves out
            return True
        unknown = sorted(set(request.query_params) - documented - ALWAYS)
        if unknown:
            takes = ", ".join(sorted(documented)) or "no query parameters"
            raise ValidationError(
                {
                    name: [f"Not a parameter of this operation (it takes {takes})."]
                    for name in unknown
                }
            )
        return True

"""The API's pages: DRF's limit and offset, with a ceiling on the limit, read strictly."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class LimitOffsetWithCeiling(LimitOffsetPagination):
    """Without `max_limit`, ?limit=10**21 reached PostgreSQL as a LIMIT beyond bigint: a 500.
    A limit over the ceiling gets the ceiling (DRF's rule), not an error. A huge offset is
    harmless: DRF answers an empty page once the offset passes the count, without a query.

    DRF reads a limit or offset it cannot use (`?limit=banana`, `?offset=-3`, `?limit=`) as
    not given, and answers the first page as if it were the one asked for: here it is a 400
    that names the parameter, as the filters' values are (governance/api/filtering.py)."""

    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        if self.limit_query_param in request.query_params:
            value = _whole(request, self.limit_query_param, minimum=1)
            return min(value, self.max_limit) if self.max_limit else value
        return self.default_limit

    def get_offset(self, request: Request) -> int:
        if self.offset_query_param in request.query_params:
            return _whole(request, self.offset_query_param, minimum=0)
        return 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        minimum = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            if parameter["name"] in minimum:
                parameter["schema"]["minimum"] = minimum[parameter["name"]]
        return parameters


def _whole(request: Request, name: str, *, minimum: int) -> int:
    values = request.query_params.getlist(name)
    try:
        if len(values) != 1:
            raise ValueError
        value = int(values[0])
    except ValueError:
        raise ValidationError({name: ["A whole number."]}) from None
    if value < minimum:
        raise ValidationError({name: [f"At least {minimum}."]})
    return value

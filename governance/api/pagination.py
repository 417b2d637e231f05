"""The API's pages: DRF's limit and offset, with a ceiling on the limit."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class LimitOffsetWithCeiling(LimitOffsetPagination):
    """Without `max_limit`, ?limit=10**21 reached PostgreSQL as a LIMIT beyond bigint: a 500.
    A limit over the ceiling gets the ceiling (DRF's rule), not an error. A huge offset is
    harmless: DRF answers an empty page once the offset passes the count, without a query."""

    max_limit = 1000

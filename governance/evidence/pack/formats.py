"""Writing rows as JSON and CSV, streamed in blocks: a section never sits whole in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

BLOCK_ROWS = 500
_ENCODER = DjangoJSONEncoder()
# A spreadsheet runs a cell that starts like a formula; a pack handed to an auditor must
# not run anything when opened (OWASP "CSV injection"), so such text cells get a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def dumps(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=indent)


def json_document(
    header: dict[str, Any], rows: Iterable[dict[str, Any]], counter: Callable[[], None]
) -> Iterator[bytes]:
    """`{…header, "rows": [row, row, …]}`, one row per line, streamed."""
    opening = dumps(header)[:-1] + (", " if header else "") + '"rows": ['
    parts: list[str] = [opening]
    first = True
    for row in rows:
        counter()
        parts.append(("\n  " if first else ",\n  ") + dumps(row))
        first = False
        if len(parts) >= BLOCK_ROWS:
            yield "".join(parts).encode()
            parts.clear()
    parts.append("\n]}\n" if not first else "]}\n")
    yield "".join(parts).encode()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return _ENCODER.default(value)  # as the JSON files write it ("…T10:00:00Z")
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_document(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A header line and one line per row; nested values as JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_cell(row.get(column)) for column in columns])
        if count % BLOCK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()

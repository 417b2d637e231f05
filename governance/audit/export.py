"""The audit trail as CSV, for a spreadsheet: the events a person may read, as filtered.

A cell a spreadsheet would read as a formula (it starts with = + - @, or a tab or carriage
return that some strip first) is written with a leading apostrophe: an actor's name or an
object's title is text, never a formula run on the reader's machine.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from governance.audit.links import object_links
from governance.models import AuditEvent

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = [
    "occurred_at", "system", "seq", "actor", "credential", "action", "object_kind",
    "object_type", "object_id", "object", "page", "request_id", "before", "after", "hash",
]  # fmt: skip
BATCH = 500  # events read and linked at a time: memory stays flat however long the trail


def neutralise(value: Any) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


class _Line:
    """csv.writer writes into this; each row is handed on as soon as it is written."""

    def write(self, value: str) -> str:
        return value


def _rows(events: Iterable[AuditEvent]) -> Iterator[list[str]]:
    batch: list[AuditEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) == BATCH:
            yield from _linked(batch)
            batch = []
    yield from _linked(batch)


def _linked(events: list[AuditEvent]) -> Iterator[list[str]]:
    links = object_links(events)
    for event in events:
        link = links[event.pk]
        yield [
            neutralise(cell)
            for cell in (
                event.occurred_at.isoformat(),
                event.system.slug if event.system else "",
                event.seq,
                event.actor_name,
                event.credential,
                event.action,
                link.kind,
                event.object_type,
                event.object_id,
                event.object_repr,
                link.url or "",
                event.request_id,
                _json(event.before),
                _json(event.after),
                event.hash,
            )
        ]


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    for row in _rows(events):
        yield writer.writerow(row)

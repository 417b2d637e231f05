"""Comparing the checkpoints in the database with the lines published to the sink.

Every checkpoint in the database must be in the sink, alike in every field, and every line of
the sink must still be in the database. Checkpoints older than the sink's first line were
written before it was set up and are counted, not compared. Both sides are read in id order
and merged, a checkpoint at a time: memory stays flat however long the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.audit import sink
from governance.audit.breaks import CHECKPOINTS, Break
from governance.models import AuditCheckpoint


@dataclass
class SinkComparison:
    compared: int = 0
    before_sink: int = 0
    broken: Break | None = None


class _BadSink(Exception):
    def __init__(self, checkpoint: int, reason: str) -> None:
        super().__init__(reason)
        self.broken = Break(CHECKPOINTS, checkpoint, reason, checkpoint=checkpoint)


def _published(path: str | Path) -> Iterator[dict[str, Any]]:
    """The sink's records; ids rise line by line (they are taken under the writer's lock)."""
    last = 0
    for line in sink.read(path):
        if line.record is None:
            raise _BadSink(0, f"line {line.number} of the sink is not a checkpoint record")
        if line.record["id"] <= last:
            raise _BadSink(
                line.record["id"],
                f"line {line.number} of the sink repeats it or is out of order",
            )
        last = line.record["id"]
        yield line.record


def _difference(checkpoint: AuditCheckpoint, was: dict[str, Any]) -> Break | None:
    held = sink.record(checkpoint)
    if was == held:
        return None
    before, now = was.get("heads") or {}, held["heads"]
    for chain in sorted(set(before) | set(now)):
        if before.get(chain) != now.get(chain):
            seq = (before.get(chain) or now[chain])[0]
            return Break(
                chain,
                seq,
                f"checkpoint {checkpoint.pk} was published with head {before.get(chain)} of "
                f"this chain; the database now records {now.get(chain)}",
                checkpoint=checkpoint.pk,
            )
    fields = ", ".join(name for name in held if was.get(name) != held[name])
    return Break(
        CHECKPOINTS, checkpoint.pk, f"differs from its line in the sink in: {fields}",
        checkpoint=checkpoint.pk,
    )  # fmt: skip


def compare_with_sink(path: str | Path) -> SinkComparison:
    """Stops at the first difference. Raises OSError when the sink cannot be read."""
    result = SinkComparison()
    published = _published(path)
    try:
        was = next(published, None)
        first = was["id"] if was is not None else None
        for checkpoint in AuditCheckpoint.objects.order_by("id").iterator():
            if first is None or checkpoint.pk < first:
                result.before_sink += 1
                continue
            if was is None or checkpoint.pk < was["id"]:
                result.broken = Break(
                    CHECKPOINTS, checkpoint.pk, "is in the database but not in the sink",
                    checkpoint=checkpoint.pk,
                )  # fmt: skip
                return result
            if checkpoint.pk > was["id"]:
                break
            result.broken = _difference(checkpoint, was)
            if result.broken:
                return result
            result.compared += 1
            was = next(published, None)
    except _BadSink as bad:
        result.broken = bad.broken
        return result
    if was is not None:
        result.broken = Break(
            CHECKPOINTS, was["id"], "is in the sink but no longer in the database: it was removed",
            checkpoint=was["id"],
        )  # fmt: skip
    return result

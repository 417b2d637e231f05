"""Publishing signed checkpoints outside the database: one JSON line each, appended to a file.

AUDIT_CHECKPOINT_SINK names the file. Each checkpoint's line is written and fsync'd inside the
transaction that inserts it, under the checkpoint writer's lock, so the lines are in the
checkpoints' order; a write that fails fails the checkpoint. Point it at storage the database's
administrators cannot rewrite (a WORM or append-only volume, or a file shipped on to syslog or
object storage with retention): `verify_audit --sink FILE` then compares the two records, and a
checkpoint rewritten or removed in the database no longer matches its line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.audit.hashing import canonical_json

if TYPE_CHECKING:
    from governance.models import AuditCheckpoint


def record(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as published: everything its hash and signature cover, and both."""
    return {
        "id": checkpoint.pk,
        "created_at": checkpoint.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "heads": checkpoint.heads,
        "prev_hash": checkpoint.prev_hash,
        "hash": checkpoint.hash,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def append(path: str, checkpoint: AuditCheckpoint) -> None:
    """Append the checkpoint's line and wait until it is on disk."""
    line = (canonical_json(record(checkpoint)) + "\n").encode()
    # O_APPEND: every write lands at the end, whatever else holds the file open.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SinkLine:
    number: int
    record: dict[str, Any] | None  # None: the line is not a checkpoint record
    text: str


def read(path: str | Path) -> Iterator[SinkLine]:
    with Path(path).open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("id"), int):
                data = None
            yield SinkLine(number, data, text)

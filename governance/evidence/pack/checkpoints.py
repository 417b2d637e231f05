"""The signed audit checkpoints a pack carries, so a verifier holding only the public key can
tie the pack's events to heads signed when they were recorded.

Of the system's chain, the pack takes the first signed checkpoint at or after the segment's
last event, with the events from there up to that checkpoint's head (`audit_events_after.jsonl`,
at most TAIL_MAX_EVENTS of them); and the last signed checkpoint whose head lies inside the
segment, when that one would not already cover it (the checkpoint after the period is not
written yet, or lies too far on). A pack whose events were rewritten and rehashed in the
database after the checkpoints were signed then fails to reach the signed heads.

Each checkpoint is carried whole, as `verify_audit --sink` reads it: its signature covers every
chain's head, so the other chains' heads (sequence numbers and hashes, nothing of their
events) travel with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection

from governance.audit import sink
from governance.audit.hashing import CHECKPOINT_MESSAGE_FORMAT
from governance.models import AuditCheckpoint

if TYPE_CHECKING:
    from governance.evidence.pack.audit import ChainSegment

CHECKPOINTS_FILE = "audit_checkpoints.json"
TAIL_FILE = "audit_events_after.jsonl"
TAIL_MAX_EVENTS = 10_000  # beyond: the checkpoint after the period is left out, not its tail
_TABLE = AuditCheckpoint._meta.db_table
_SIGNED_HEAD = f"""
SELECT id FROM {_TABLE}
WHERE signature <> '' AND jsonb_typeof(heads -> %(chain)s) = 'array'
  AND (heads -> %(chain)s ->> 0)::bigint BETWEEN %(low)s AND %(high)s
ORDER BY id {{order}} LIMIT 1
"""


@dataclass(frozen=True)
class PackCheckpoints:
    chain: str
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    tail_first_seq: int | None = None  # the events after the segment, up to a signed head
    tail_last_seq: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The manifest's summary; the checkpoints themselves are in CHECKPOINTS_FILE."""
        return {
            "file": CHECKPOINTS_FILE,
            "message_format": CHECKPOINT_MESSAGE_FORMAT,
            "ids": [checkpoint["id"] for checkpoint in self.checkpoints],
            "tail_file": TAIL_FILE,
            "tail_first_seq": self.tail_first_seq,
            "tail_last_seq": self.tail_last_seq,
        }

    def document(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "message_format": CHECKPOINT_MESSAGE_FORMAT,
            "checkpoints": self.checkpoints,
        }


def _signed(chain: str, low: int, high: int, *, newest: bool) -> AuditCheckpoint | None:
    query = _SIGNED_HEAD.format(order="DESC" if newest else "ASC")
    with connection.cursor() as cursor:
        cursor.execute(query, {"chain": chain, "low": low, "high": high})
        row = cursor.fetchone()
    return AuditCheckpoint.objects.get(pk=row[0]) if row else None


def head_seq(checkpoint: AuditCheckpoint | dict[str, Any], chain: str) -> int:
    heads = checkpoint.heads if isinstance(checkpoint, AuditCheckpoint) else checkpoint["heads"]
    return int(heads[chain][0])


def pack_checkpoints(segment: ChainSegment) -> PackCheckpoints:
    """Chosen in the pack's snapshot, like the segment."""
    chain = segment.chain
    if segment.first_seq is None or segment.last_seq is None:
        return PackCheckpoints(chain)
    first, last = segment.first_seq, segment.last_seq
    after = _signed(chain, last, last + TAIL_MAX_EVENTS, newest=False)
    chosen = []
    if after is None or head_seq(after, chain) > last:
        inside = _signed(chain, first, last, newest=True)
        if inside is not None:
            chosen.append(inside)
    tail: tuple[int | None, int | None] = (None, None)
    if after is not None:
        chosen.append(after)
        if head_seq(after, chain) > last:
            tail = (last + 1, head_seq(after, chain))
    return PackCheckpoints(chain, [sink.record(checkpoint) for checkpoint in chosen], *tail)

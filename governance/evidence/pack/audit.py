"""The audit events of a pack: one contiguous segment of the system's hash chain, as JSON Lines.

The segment runs from the first to the last sealed event that occurred in the period, by
sequence number, so it is contiguous even when an event sealed late carries a time just
outside the period: a verifier walks it link by link from the first hash to the last. The
lines come straight out of PostgreSQL (`COPY (SELECT json_build_object(…)) TO STDOUT`),
never as Python objects, so the exporter's memory stays flat however many events there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from psycopg import sql

from governance.audit.chain import GENESIS_HASH, chain_name
from governance.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem

_EVENTS = AuditEvent._meta.db_table
BUFFER_BYTES = 1 << 20  # hand the zip writer ~1 MB at a time, not one short line per row
# Each line: the fields the hash covers (governance/audit/hashing.py; "credential" only where
# the event has one, as the hash takes it), then the hash. The time is written exactly as
# the hash saw it: UTC, microseconds, "+00:00". Built by concatenation, not json_build_object
# (a third less of the server's time, bench/evidence_export.py): text that people or clients
# supply goes through to_json, which escapes it; the hashes are hex written by the sealer and
# the jsonb columns are JSON already.
LINE_SQL = f"""
SELECT concat(
    '{{{{"chain":', to_json(chain), ',"seq":', seq, ',"prev_hash":"', prev_hash,
    '","occurred_at":"',
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
    '","system_id":', coalesce(system_id::text, 'null'),
    ',"actor_id":', coalesce(actor_id::text, 'null'),
    ',"actor_name":', to_json(actor_name), ',"request_id":', to_json(request_id),
    ',"action":', to_json(action), ',"object_type":', to_json(object_type),
    ',"object_id":', to_json(object_id), ',"object_repr":', to_json(object_repr),
    ',"before":', coalesce(before::text, 'null'), ',"after":', coalesce(after::text, 'null'),
    CASE WHEN credential <> '' THEN concat(',"credential":', to_json(credential)) END,
    ',"hash":"', hash, '"}}}}')
FROM {_EVENTS} WHERE chain = {{chain}} AND seq BETWEEN {{first}} AND {{last}} ORDER BY seq
"""
# CSV with a quote and a delimiter that JSON text never holds raw (PostgreSQL escapes control
# characters in JSON strings), so each line comes out byte for byte, unquoted, unescaped.
COPY_SQL = "COPY ({query}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


@dataclass(frozen=True)
class ChainSegment:
    chain: str
    events: int
    first_seq: int | None
    last_seq: int | None
    anchor_hash: str | None  # the first event's prev_hash: where the segment hangs on the chain
    first_hash: str | None
    last_hash: str | None
    head_seq: int  # the chain head when the pack was made
    head_hash: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def chain_segment(system: AISystem, period: PackPeriod) -> ChainSegment:
    """Bounds of the period's segment and the chain head, read in the pack's snapshot."""
    chain = chain_name(system.pk)
    head = AuditChainHead.objects.filter(chain=chain).values_list("seq", "head_hash").first()
    head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(seq), max(seq) FROM {_EVENTS} WHERE system_id = %s "
            "AND seq IS NOT NULL AND occurred_at >= %s AND occurred_at < %s",
            [system.pk, period.since, period.until],
        )
        low, high = cursor.fetchone()
        if low is None:
            return ChainSegment(chain, 0, None, None, None, None, None, head_seq, head_hash)
        cursor.execute(
            f"SELECT seq, prev_hash, hash FROM {_EVENTS} WHERE chain = %s AND seq IN (%s, %s)",
            [chain, low, high],
        )
        ends = {seq: (prev, own) for seq, prev, own in cursor.fetchall()}
    return ChainSegment(
        chain=chain,
        events=high - low + 1,
        first_seq=low,
        last_seq=high,
        anchor_hash=ends[low][0],
        first_hash=ends[low][1],
        last_hash=ends[high][1],
        head_seq=head_seq,
        head_hash=head_hash,
    )


def event_lines(segment: ChainSegment) -> Iterator[bytes]:
    """The segment's events as JSON Lines, in chain order, in blocks of about BUFFER_BYTES."""
    if segment.first_seq is None or segment.last_seq is None:
        return
    yield from events_between(segment.chain, segment.first_seq, segment.last_seq)


def events_between(chain: str, first: int, last: int) -> Iterator[bytes]:
    """Events `first` to `last` of the chain as JSON Lines, in blocks of about BUFFER_BYTES."""
    # COPY takes no bind parameters: the values are quoted as literals by psycopg.
    query = sql.SQL(COPY_SQL.format(query=LINE_SQL)).format(
        chain=sql.Literal(chain),
        first=sql.Literal(first),
        last=sql.Literal(last),
    )
    buffer = bytearray()
    with connection.cursor() as cursor:
        statement = query.as_string(cursor.connection)
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for data in copy:
            buffer += data
            if len(buffer) >= BUFFER_BYTES:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)

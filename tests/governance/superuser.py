"""What a database superuser can do to the audit trail: switch the append-only triggers off,
rewrite rows, and recompute every hash after them with Failsafe's own functions, so that the
hash chains and the checkpoints' chain are whole again. Only a signature can give it away."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from governance.audit.chain import GENESIS_HASH
from governance.audit.hashing import (
    HASH_INPUTS,
    checkpoint_hash,
    checkpoint_message,
    event_hash,
    normalise,
)
from governance.evidence import sign
from governance.models import AuditChainHead, AuditCheckpoint, AuditEvent

TABLES = ("governance_auditevent", "governance_auditcheckpoint")


@contextmanager
def triggers_off() -> Iterator[None]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER refuses pending deferred checks
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def rewrite_event(chain: str, seq: int, after: dict[str, Any]) -> dict[int, str]:
    """Give the event at `seq` another `after` and rehash it and every event after it; the
    chain head follows. Returns the new hash of each rehashed sequence number."""
    rehashed: dict[int, str] = {}
    with triggers_off():
        events = AuditEvent.objects.filter(chain=chain, seq__gte=seq).order_by("seq")
        rows = list(events.values("id", *HASH_INPUTS))
        prev = rows[0]["prev_hash"]
        for row in rows:
            if row["seq"] == seq:
                row["after"] = normalise(after)
            row["prev_hash"] = prev
            prev = rehashed[row["seq"]] = event_hash(row)
            AuditEvent.objects.filter(pk=row["id"]).update(
                after=row["after"], prev_hash=row["prev_hash"], hash=prev
            )
        AuditChainHead.objects.filter(chain=chain).update(head_hash=prev)
    return rehashed


def recompute_checkpoints(
    chain: str, rehashed: dict[int, str], *, signature: str = "copy", key: Any = None
) -> list[int]:
    """Rewrite every checkpoint's head of `chain` to the rehashed events and chain the
    checkpoints anew. `signature`: "copy" keeps each row's old one, "drop" blanks it, "sign"
    signs anew with `key` (an app server's key, stolen). Returns the ids rewritten."""
    rewritten = []
    with triggers_off():
        prev = GENESIS_HASH
        for checkpoint in AuditCheckpoint.objects.order_by("id"):
            heads = dict(checkpoint.heads)
            seq, head = heads.get(chain, (0, GENESIS_HASH))
            heads[chain] = [seq, rehashed.get(seq, head)]
            digest = checkpoint_hash(created_at=checkpoint.created_at, heads=heads, prev_hash=prev)
            changed = digest != checkpoint.hash
            fields: dict[str, Any] = {"heads": heads, "prev_hash": prev, "hash": digest}
            if changed and signature == "drop":
                fields.update(signature="", key_id="")
            elif changed and signature == "sign":
                message = checkpoint_message(
                    checkpoint_id=checkpoint.pk, created_at=checkpoint.created_at,
                    heads=heads, prev_hash=prev,
                )  # fmt: skip
                fields["signature"] = sign.sign(message, key).decode().strip()
            if changed:
                AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(**fields)
                rewritten.append(checkpoint.pk)
            prev = digest
    return rewritten

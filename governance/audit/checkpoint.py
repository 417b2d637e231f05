"""Periodic checkpoints: one hash-chained row naming every chain's head at that moment."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from governance.audit.chain import GENESIS_HASH
from governance.audit.hashing import checkpoint_hash
from governance.models import AuditChainHead, AuditCheckpoint

_CHECKPOINT_LOCK = 0x4641494C  # advisory lock key: one checkpoint writer at a time


def write_checkpoint() -> AuditCheckpoint:
    """Record every chain head as committed now. Does not block appenders."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHECKPOINT_LOCK])
        heads = {
            chain: [seq, head]
            for chain, seq, head in AuditChainHead.objects.values_list("chain", "seq", "head_hash")
        }
        last = AuditCheckpoint.objects.order_by("-id").values_list("hash", flat=True).first()
        prev = last or GENESIS_HASH
        created_at = timezone.now()
        return AuditCheckpoint.objects.create(
            created_at=created_at,
            heads=heads,
            prev_hash=prev,
            hash=checkpoint_hash(created_at=created_at, heads=heads, prev_hash=prev),
        )

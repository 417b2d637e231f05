"""Periodic checkpoints: one hash-chained, signed row naming every chain's head at that moment.

The signature (governance/audit/signing.py) covers `checkpoint_message`: the row's id, time,
heads and link to the checkpoint before. It is made before the row is inserted, on the id the
row will have, because the row can never be updated afterwards.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.audit import sink
from governance.audit.chain import GENESIS_HASH
from governance.audit.hashing import checkpoint_hash, checkpoint_message
from governance.audit.signing import checkpoint_signing_key
from governance.evidence import sign
from governance.models import AuditChainHead, AuditCheckpoint

logger = logging.getLogger(__name__)

_CHECKPOINT_LOCK = 0x4641494C  # advisory lock key: one checkpoint writer at a time
_TABLE = AuditCheckpoint._meta.db_table


def write_checkpoint() -> AuditCheckpoint:
    """Record every chain head as committed now, signed, and publish it to the sink if one is
    set. Does not block appenders."""
    key = checkpoint_signing_key()  # a key set but unreadable fails here, before anything
    if key is None:
        logger.warning(
            "audit checkpoint written unsigned: set AUDIT_CHECKPOINT_KEY or EVIDENCE_SIGNING_KEY"
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHECKPOINT_LOCK])
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [_TABLE])
            (checkpoint_id,) = cursor.fetchone()
        heads = {
            chain: [seq, head]
            for chain, seq, head in AuditChainHead.objects.values_list("chain", "seq", "head_hash")
        }
        last = AuditCheckpoint.objects.order_by("-id").values_list("hash", flat=True).first()
        prev = last or GENESIS_HASH
        created_at = timezone.now()
        checkpoint = AuditCheckpoint(
            id=checkpoint_id,
            created_at=created_at,
            heads=heads,
            prev_hash=prev,
            hash=checkpoint_hash(created_at=created_at, heads=heads, prev_hash=prev),
        )
        if key is not None:
            message = checkpoint_message(
                checkpoint_id=checkpoint_id, created_at=created_at, heads=heads, prev_hash=prev
            )
            checkpoint.signature = sign.sign(message, key).decode().strip()
            checkpoint.key_id = sign.key_id(key.public_key())
        checkpoint.save(force_insert=True)
        if settings.AUDIT_CHECKPOINT_SINK:
            # Inside the transaction, under the lock: the sink's lines keep the checkpoints'
            # order, and a checkpoint that cannot be published is not written either.
            sink.append(settings.AUDIT_CHECKPOINT_SINK, checkpoint)
        return checkpoint

"""Checking the checkpoints: their own chain, their signatures, and that every head they sign
is still in its chain with that hash at that sequence number.

A database superuser can rewrite an event, recompute every hash after it and recompute the
checkpoints too; the first checkpoint they recompute no longer matches its signature, and one
they leave alone no longer matches the chain. Checkpoints written before they were signed are
counted (`unsigned`) and pass only while no signed one precedes them, or fail outright with
`require_signatures`: an attacker who strips signatures off rows cannot pass them as old ones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from governance.audit.breaks import CHECKPOINTS, Break
from governance.audit.chain import GENESIS_HASH
from governance.audit.hashing import checkpoint_hash, checkpoint_message
from governance.evidence import sign
from governance.models import AuditCheckpoint, AuditEvent

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass
class CheckpointVerification:
    checkpoints: int = 0
    signed: int = 0
    unsigned: int = 0  # written before checkpoints were signed (or with no key configured)
    key_ids: set[str] = field(default_factory=set)
    broken: Break | None = None


def signature_valid(checkpoint: AuditCheckpoint, key: Ed25519PublicKey) -> bool:
    message = checkpoint_message(
        checkpoint_id=checkpoint.pk,
        created_at=checkpoint.created_at,
        heads=checkpoint.heads,
        prev_hash=checkpoint.prev_hash,
    )
    return sign.signature_valid(message, checkpoint.signature.encode(), key)


def _own_break(checkpoint: AuditCheckpoint, reason: str) -> Break:
    return Break(CHECKPOINTS, checkpoint.pk, reason, checkpoint=checkpoint.pk)


def _check_signature(checkpoint: AuditCheckpoint, keys: dict[str, Ed25519PublicKey]) -> str | None:
    key = keys.get(checkpoint.key_id)
    if key is None:
        return (
            f"signed with key {checkpoint.key_id[:16]}…, and no public key with that id was "
            "given to verify with (--public-key)"
        )
    if not signature_valid(checkpoint, key):
        return "its signature does not verify: the checkpoint was changed after it was signed"
    return None


def verify_checkpoints(
    *,
    keys: dict[str, Ed25519PublicKey],
    require_signatures: bool = False,
    chains: Collection[str] | None = None,
) -> CheckpointVerification:
    """Walk the checkpoints oldest first; stop at the first thing wrong. Every checkpoint's
    link, hash and signature are checked (each covers every chain's head); the heads are
    held against the chains themselves for `chains` only, when named."""
    result = CheckpointVerification()
    prev = GENESIS_HASH
    # Per chain, the last head a checkpoint named and the chain held: most checkpoints repeat
    # most heads (a quiet system's chain does not move), and those need no query again.
    verified: dict[str, tuple[int, str]] = {}
    for checkpoint in AuditCheckpoint.objects.order_by("id").iterator():
        result.checkpoints += 1
        recomputed = checkpoint_hash(
            created_at=checkpoint.created_at, heads=checkpoint.heads, prev_hash=checkpoint.prev_hash
        )
        if checkpoint.prev_hash != prev:
            result.broken = _own_break(
                checkpoint,
                "does not link to the checkpoint before it: one was removed or rewritten",
            )
            return result
        if recomputed != checkpoint.hash:
            result.broken = _own_break(checkpoint, "its content does not match its hash")
            return result
        if checkpoint.signature:
            if problem := _check_signature(checkpoint, keys):
                result.broken = _own_break(checkpoint, problem)
                return result
            result.signed += 1
            result.key_ids.add(checkpoint.key_id)
        elif require_signatures or result.signed:
            why = "signatures are required" if require_signatures else "a signed one precedes it"
            result.broken = _own_break(checkpoint, f"is not signed, and {why}")
            return result
        else:
            result.unsigned += 1
        for chain, (seq, head) in sorted(checkpoint.heads.items()):
            if seq == 0 or verified.get(chain) == (seq, head):
                continue
            if chains is not None and chain not in chains:
                continue
            held = (
                AuditEvent.objects.filter(chain=chain, seq=seq)
                .values_list("hash", flat=True)
                .first()
            )
            if held != head:
                after = verified.get(chain, (0, ""))[0]
                what = "is missing" if held is None else "has another hash"
                result.broken = Break(
                    chain,
                    seq,
                    f"the event checkpoint {checkpoint.pk} recorded here {what}: the chain was "
                    f"rewritten after seq {after} (the last a checkpoint before proved)",
                    checkpoint=checkpoint.pk,
                )
                return result
            verified[chain] = (seq, head)
        prev = checkpoint.hash
    return result

"""Walking the audit chains to prove nobody edited, removed or reordered an event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from governance.audit.breaks import Break
from governance.audit.chain import GENESIS_HASH
from governance.audit.hashing import HASH_INPUTS, event_hash
from governance.audit.signing import verification_keys
from governance.audit.verify_checkpoints import CheckpointVerification, verify_checkpoints
from governance.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["Break", "Verification", "combined_head", "verify_all", "verify_chain"]


@dataclass
class Verification:
    events: int = 0
    pending: int = 0  # written, committed, not sealed yet (sealing follows commit)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    breaks: list[Break] = field(default_factory=list)
    checkpoints: CheckpointVerification | None = None  # None: a chain broke before them

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def head_hash(self) -> str:
        """One hash over every chain's head: what a checkpoint or an evidence pack cites."""
        return combined_head(self.heads)


def combined_head(heads: dict[str, tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    for chain in sorted(heads):
        seq, head = heads[chain]
        digest.update(f"{chain}:{seq}:{head}\n".encode())
    return digest.hexdigest()


def _events(chain: str) -> Iterator[dict]:
    columns = [*HASH_INPUTS, "hash"]
    yield from (
        AuditEvent.objects.filter(chain=chain, seq__isnull=False)
        .order_by("seq")
        .values(*columns)
        .iterator(chunk_size=5000)
    )


def verify_chain(chain: str) -> tuple[int, tuple[int, str], Break | None]:
    """Check one chain: (events read, (last seq, last hash), the first break or None)."""
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    for event in _events(chain):
        count += 1
        seq = event["seq"]
        if seq != expected_seq:
            return count, (expected_seq - 1, prev), Break(chain, expected_seq, "event missing")
        if event["prev_hash"] != prev:
            return count, (seq, prev), Break(chain, seq, "does not link to the event before it")
        if event_hash(event) != event["hash"]:
            return count, (seq, prev), Break(chain, seq, "content does not match its hash")
        prev = event["hash"]
        expected_seq += 1
    last = (expected_seq - 1, prev)
    head = AuditChainHead.objects.filter(chain=chain).values_list("seq", "head_hash").first()
    if head is not None and tuple(head) != last:
        return count, last, Break(chain, last[0] + 1, "events after this point were removed")
    return count, last, None


def verify_all(
    chains: list[str] | None = None,
    *,
    keys: dict[str, Ed25519PublicKey] | None = None,
    require_signatures: bool = False,
) -> Verification:
    """Every chain (or those named), then the checkpoints: each one's link, hash and signature
    (checked against `keys` by key id, by default the configured signing key's public half),
    and the heads they signed of the chains verified."""
    result = Verification()
    named = chains
    if chains is None:
        chains = sorted(
            set(AuditChainHead.objects.values_list("chain", flat=True))
            | set(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
        )
    for chain in chains:
        count, last, broken = verify_chain(chain)
        result.events += count
        result.heads[chain] = last
        if broken:
            result.breaks.append(broken)
    result.pending = AuditEvent.objects.filter(chain__in=chains, seq__isnull=True).count()
    if result.ok:
        result.checkpoints = verify_checkpoints(
            keys=verification_keys() if keys is None else keys,
            require_signatures=require_signatures,
            chains=named,
        )
        if result.checkpoints.broken:
            result.breaks.append(result.checkpoints.broken)
    return result

"""Appending to an audit chain.

The chain head row is the serialisation point: the UPDATE that bumps its sequence
number takes the row lock, and the lock is held until the caller's transaction ends.
Call `record_event` as the last statement of a service's transaction, so the lock
covers only the append and the commit, never slow work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils import timezone

from governance.audit.context import current_request_id
from governance.audit.hashing import event_hash, normalise
from governance.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

    from governance.models import AISystem

GENESIS_HASH = "0" * 64
GLOBAL_CHAIN = "global"

_BUMP_HEAD = (
    f"UPDATE {AuditChainHead._meta.db_table} SET seq = seq + 1 "
    "WHERE chain = %s RETURNING seq, head_hash"
)


def chain_name(system_id: int | None) -> str:
    return f"system:{system_id}" if system_id else GLOBAL_CHAIN


def _describe(obj: Model | None) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    meta = obj._meta
    return f"{meta.app_label}.{meta.model_name}", str(obj.pk), str(obj)[:200]


def record_event(
    *,
    actor: User | None,
    action: str,
    obj: Model | None = None,
    system: AISystem | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    object_repr: str | None = None,
) -> AuditEvent:
    """Append one event to the system's chain (or the global one) in the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the service's transaction")

    described = _describe(obj)
    system_id = system.pk if system is not None else None
    chain = chain_name(system_id)
    fields: dict[str, Any] = {
        "chain": chain,
        "system_id": system_id,
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_name": actor.get_username() if actor is not None else "system",
        "request_id": current_request_id.get(),
        "action": action,
        "object_type": object_type if object_type is not None else described[0],
        "object_id": object_id if object_id is not None else described[1],
        "object_repr": (object_repr if object_repr is not None else described[2])[:200],
        "before": normalise(before),
        "after": normalise(after),
    }

    with connection.cursor() as cursor:
        cursor.execute(_BUMP_HEAD, [chain])
        row = cursor.fetchone()
        if row is None:
            # First event of this chain: create the head, then take its lock as usual.
            AuditChainHead.objects.bulk_create(
                [AuditChainHead(chain=chain, seq=0, head_hash=GENESIS_HASH)], ignore_conflicts=True
            )
            cursor.execute(_BUMP_HEAD, [chain])
            row = cursor.fetchone()
    fields["seq"], fields["prev_hash"] = row
    fields["hash"] = event_hash(fields)

    event = AuditEvent(**fields)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(chain=chain).update(
        head_hash=fields["hash"], updated_at=fields["occurred_at"]
    )
    return event


def head_of(chain: str) -> tuple[int, str]:
    head = AuditChainHead.objects.filter(chain=chain).values_list("seq", "head_hash").first()
    return head if head is not None else (0, GENESIS_HASH)

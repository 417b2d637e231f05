"""Appending to an audit chain: written in the service's transaction, sealed just after.

A service writes its event with the rest of its change, in its own transaction, taking no
lock, so writers never queue behind each other's commits. A periodic sealer (Celery beat,
every AUDIT_SEAL_SECONDS) then gives each committed event its place in its system's chain:
sequence number, previous hash, own hash. It takes the chain head's row lock once per batch
of up to SEAL_BATCH events, never across anyone's request. Until it is sealed, an event's
content is already fixed: the database refuses any change to it but the sealing itself.
`verify_audit` and evidence exports seal what is pending before they read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from governance.audit.context import current_credential, current_request_id
from governance.audit.hashing import HASH_INPUTS, event_hash, normalise
from governance.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

    from governance.models import AISystem

GENESIS_HASH = "0" * 64
GLOBAL_CHAIN = "global"
SEAL_BATCH = 1000

_EVENTS = AuditEvent._meta.db_table
_HEADS = AuditChainHead._meta.db_table
# What a credential says is cut to its column here, where it is written: a token's name may be long.
_CREDENTIAL_LENGTH = AuditEvent._meta.get_field("credential").max_length


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
    """Write one event in the caller's transaction; the periodic sealer chains it after commit."""
    event = new_event(
        actor=actor, action=action, obj=obj, system=system, before=before, after=after,
        object_type=object_type, object_id=object_id, object_repr=object_repr,
    )  # fmt: skip
    event.save(force_insert=True)
    return event


def new_event(
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
    """The event `record_event` writes, unsaved: for a caller that writes it in a statement
    with another row (incidents.services.timeline), in the service's transaction too."""
    if not connection.in_atomic_block:
        raise RuntimeError("an audit event is written inside the service's transaction")
    described = _describe(obj)
    system_id = system.pk if system is not None else None
    chain = chain_name(system_id)
    return AuditEvent(
        chain=chain,
        system_id=system_id,
        occurred_at=timezone.now(),
        actor_id=actor.pk if actor is not None else None,
        actor_name=actor.get_username() if actor is not None else "system",
        request_id=current_request_id.get(),
        credential=current_credential.get()[:_CREDENTIAL_LENGTH],
        action=action,
        object_type=object_type if object_type is not None else described[0],
        object_id=object_id if object_id is not None else described[1],
        object_repr=(object_repr if object_repr is not None else described[2])[:200],
        before=normalise(before),
        after=normalise(after),
    )


def seal_pending(chain: str) -> int:
    """Seal every committed, unsealed event of `chain`, oldest first. Returns how many."""
    sealed = 0
    while count := _seal_batch(chain):
        sealed += count
    return sealed


@transaction.atomic
def _seal_batch(chain: str) -> int:
    with connection.cursor() as cursor:
        # The head row is the chain's one serialisation point: one sealer at a time.
        cursor.execute(
            f"INSERT INTO {_HEADS} (chain, seq, head_hash, updated_at) "
            "VALUES (%s, 0, %s, now()) ON CONFLICT (chain) DO NOTHING",
            [chain, GENESIS_HASH],
        )
        cursor.execute(f"SELECT seq, head_hash FROM {_HEADS} WHERE chain = %s FOR UPDATE", [chain])
        head = cursor.fetchone()
    seq, prev = head
    pending = list(
        AuditEvent.objects.filter(chain=chain, seq__isnull=True)
        .order_by("id")
        .values("id", *[f for f in HASH_INPUTS if f not in ("seq", "prev_hash")])[:SEAL_BATCH]
    )
    if not pending:
        return 0
    rows: list[Any] = []
    for event in pending:
        seq += 1
        event.update(seq=seq, prev_hash=prev)
        prev = event_hash(event)
        rows += [event["id"], seq, event["prev_hash"], prev]
    values = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(pending))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_EVENTS} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
            f"FROM (VALUES {values}) AS v(id, seq, prev_hash, hash) WHERE e.id = v.id",
            rows,
        )
        cursor.execute(
            f"UPDATE {_HEADS} SET seq = %s, head_hash = %s, updated_at = now() WHERE chain = %s",
            [seq, prev, chain],
        )
    return len(pending)


def seal_all() -> int:
    """Seal the pending events of every chain (what the periodic sealer runs)."""
    chains = (
        AuditEvent.objects.filter(seq__isnull=True)
        .order_by()
        .values_list("chain", flat=True)
        .distinct()
    )
    return sum(seal_pending(chain) for chain in list(chains))

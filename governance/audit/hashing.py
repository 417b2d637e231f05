"""Canonical serialisation and hashing of audit events and checkpoints.

What is stored is exactly what was hashed: values pass through the canonical JSON form
before they are saved, so reading them back from jsonb gives the same bytes to hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

HASHED_FIELDS = (
    "chain",
    "seq",
    "prev_hash",
    "occurred_at",
    "system_id",
    "actor_id",
    "actor_name",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
)
# Added to the trail later: hashed only when set, so every event written before them, and
# every event without one, keeps the hash it was sealed with.
HASHED_WHEN_SET = ("credential",)
HASH_INPUTS = HASHED_FIELDS + HASHED_WHEN_SET  # the columns a verifier reads


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def normalise(value: Any) -> Any:
    """The JSON value as it will read back from the database."""
    if value is None:
        return None
    return json.loads(canonical_json(value))


def _timestamp(value: datetime) -> str:
    # Microsecond precision in UTC: exactly what PostgreSQL's timestamptz gives back.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(fields: dict[str, Any]) -> str:
    body = {name: fields[name] for name in HASHED_FIELDS}
    body.update({name: fields[name] for name in HASHED_WHEN_SET if fields.get(name)})
    body["occurred_at"] = _timestamp(fields["occurred_at"])
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def checkpoint_hash(*, created_at: datetime, heads: dict[str, Any], prev_hash: str) -> str:
    body = {"created_at": _timestamp(created_at), "heads": heads, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


CHECKPOINT_MESSAGE_FORMAT = "failsafe-audit-checkpoint/1"


def checkpoint_message(
    *, checkpoint_id: int, created_at: datetime, heads: dict[str, Any], prev_hash: str
) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers: canonical JSON (sorted keys, no
    spaces, UTF-8) of the format name, the checkpoint's id, its time (UTC, microseconds), every
    chain's head as {chain: [seq, hash]} and the hash of the checkpoint before it. The id and
    the link make a signature good for one place in the checkpoints' chain only."""
    body = {
        "format": CHECKPOINT_MESSAGE_FORMAT,
        "id": checkpoint_id,
        "created_at": _timestamp(created_at),
        "heads": heads,
        "prev_hash": prev_hash,
    }
    return canonical_json(body).encode()

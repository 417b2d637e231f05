"""Checking an evidence pack away from the database that made it: every digest, the signature,
the audit chain segment it carries, and the signed audit checkpoints its events must reach.

Every problem names the file it was found in, so an auditor knows what was altered.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from governance.audit.breaks import Break
from governance.audit.hashing import (
    HASHED_FIELDS,
    HASHED_WHEN_SET,
    checkpoint_hash,
    checkpoint_message,
    event_hash,
)
from governance.evidence import sign
from governance.evidence.pack.archive import AUDIT_FILE, FORMATS, MANIFEST, SIGNATURE
from governance.evidence.pack.checkpoints import CHECKPOINTS_FILE, TAIL_FILE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Problem:
    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class PackVerification:
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    files: int = 0
    events: int = 0
    # Each signed checkpoint the events reach: (checkpoint id, seq of this chain it signed).
    checkpoints: list[tuple[int, int]] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)  # the events' hashes, at signed seqs

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, file: str, reason: str) -> None:
        self.problems.append(Problem(file, reason))


def verify_pack(
    pack: str | Path | IO[bytes],
    *,
    public_key: Ed25519PublicKey,
    checkpoint_keys: dict[str, Ed25519PublicKey] | None = None,
) -> PackVerification:
    """`checkpoint_keys`, by key id, check the audit checkpoints' signatures; by default the
    pack's own key (checkpoints are signed with the evidence key unless they have their own)."""
    result = PackVerification()
    name = str(pack) if isinstance(pack, (str, Path)) else "the pack"
    try:
        archive = zipfile.ZipFile(pack)
    except (zipfile.BadZipFile, OSError) as error:
        result.fail(name, f"not a readable ZIP archive ({error})")
        return result
    with archive:
        manifest_bytes = _read(archive, MANIFEST, result)
        signature = _read(archive, SIGNATURE, result)
        if manifest_bytes is None:
            return result
        try:
            result.manifest = json.loads(manifest_bytes)
        except ValueError:
            result.fail(MANIFEST, "is not valid JSON")
            return result
        if signature is not None and not sign.signature_valid(
            manifest_bytes, signature, public_key
        ):
            result.fail(
                f"{MANIFEST} / {SIGNATURE}",
                "the signature does not verify with the given public key "
                f"(key id {sign.key_id(public_key)[:16]}…): the manifest was altered or "
                "signed with another key",
            )
        if result.manifest.get("format") not in FORMATS:
            result.fail(MANIFEST, f"unknown format {result.manifest.get('format')!r}")
        _check_files(archive, result)
        signed = _signed_heads(archive, result, checkpoint_keys or _keys(public_key))
        _check_chain(archive, result, set(signed))
        _check_reached(result, signed)
    return result


def _keys(key: Ed25519PublicKey) -> dict[str, Ed25519PublicKey]:
    return {sign.key_id(key): key}


def _read(archive: zipfile.ZipFile, path: str, result: PackVerification) -> bytes | None:
    try:
        return archive.read(path)
    except KeyError:
        result.fail(path, "missing from the pack")
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        result.fail(path, f"cannot be read: {error}")
    return None


def _check_files(archive: zipfile.ZipFile, result: PackVerification) -> None:
    listed = {entry["path"]: entry for entry in result.manifest.get("files", [])}
    present = set(archive.namelist())
    for path in sorted(present - set(listed) - {MANIFEST, SIGNATURE}):
        result.fail(path, "is in the archive but not in the manifest")
    for path, entry in listed.items():
        if path not in present:
            result.fail(path, "is listed in the manifest but missing from the archive")
            continue
        digest, size = hashlib.sha256(), 0
        try:
            with archive.open(path) as handle:
                while chunk := handle.read(READ_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError) as error:
            result.fail(path, f"cannot be read: {error}")
            continue
        if digest.hexdigest() != entry.get("sha256") or size != entry.get("size"):
            result.fail(path, "its content does not match the sha256 and size in the manifest")
        result.files += 1


def _check_chain(archive: zipfile.ZipFile, result: PackVerification, wanted: set[int]) -> None:
    """Walk the JSON Lines from the manifest's first hash to its last, link by link, then on
    through the events after the segment that reach a carried checkpoint's head."""
    segment = result.manifest.get("audit_chain") or {}
    expected = segment.get("events", 0)
    walked = _walk(
        archive, AUDIT_FILE, result, segment.get("chain"), segment.get("first_seq"),
        segment.get("anchor_hash"), wanted,
    )  # fmt: skip
    if walked is None:
        return
    count, last_hash = walked
    result.events = count
    if segment.get("last_seq") and segment["last_seq"] > segment.get("head_seq", 0):
        result.fail(MANIFEST, "the segment ends after the chain head it cites")
    if count != expected:
        result.fail(AUDIT_FILE, f"holds {count} events, the manifest says {expected}")
        return
    if expected and last_hash != segment.get("last_hash"):
        result.fail(AUDIT_FILE, "the chain does not end at the manifest's last hash")
        return
    carried = result.manifest.get("audit_checkpoints")
    if not isinstance(carried, dict) or carried.get("tail_first_seq") is None:
        return
    first, last = carried["tail_first_seq"], carried.get("tail_last_seq")
    if first != (segment.get("last_seq") or 0) + 1 or not isinstance(last, int):
        result.fail(MANIFEST, "the events after the segment do not follow on from it")
        return
    tail = _walk(archive, TAIL_FILE, result, segment.get("chain"), first, last_hash, wanted)
    if tail is not None and tail[0] != last - first + 1:
        result.fail(TAIL_FILE, f"holds {tail[0]} events, the manifest says {last - first + 1}")


def _walk(
    archive: zipfile.ZipFile,
    path: str,
    result: PackVerification,
    chain: str | None,
    seq: int | None,
    prev: str | None,
    wanted: set[int],
) -> tuple[int, str | None] | None:
    """(events read, the last one's hash), or None after a failure."""
    segment = result.manifest.get("audit_chain") or {}
    last_hash = None
    count = 0
    try:
        handle = archive.open(path)
    except KeyError:
        result.fail(path, "missing from the pack")
        return None
    try:
        with handle:
            for count, line in enumerate(handle, start=1):
                broken = _check_event(line, seq, prev, chain)
                if broken is not None:
                    result.fail(path, f"line {count}: {broken}")
                    return None
                event = json.loads(line)
                if event["seq"] in wanted:
                    result.hashes[event["seq"]] = event["hash"]
                seq, prev, last_hash = event["seq"] + 1, event["hash"], event["hash"]
                if path == AUDIT_FILE and count == 1 and last_hash != segment.get("first_hash"):
                    result.fail(AUDIT_FILE, "the first event is not the manifest's first hash")
                    return None
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        result.fail(path, f"cannot be read: {error}")
        return None
    return count, last_hash


def _signed_heads(
    archive: zipfile.ZipFile, result: PackVerification, keys: dict[str, Ed25519PublicKey]
) -> dict[int, tuple[int, str]]:
    """The carried checkpoints whose signatures verify: {seq of the pack's chain: (checkpoint
    id, the hash it signed there)}. A checkpoint that fails is a problem of its own."""
    carried = result.manifest.get("audit_checkpoints")
    if not carried:
        return {}  # a pack of format /1
    if not isinstance(carried, dict):
        result.fail(MANIFEST, "its audit_checkpoints is not an object")
        return {}
    data = _read(archive, CHECKPOINTS_FILE, result)
    try:
        document = json.loads(data) if data is not None else {}
        checkpoints = document["checkpoints"]
    except (ValueError, KeyError, TypeError):
        if data is not None:
            result.fail(CHECKPOINTS_FILE, "is not a list of checkpoints")
        return {}
    chain = (result.manifest.get("audit_chain") or {}).get("chain")
    if [c.get("id") for c in checkpoints] != carried.get("ids"):
        result.fail(CHECKPOINTS_FILE, "does not hold the checkpoints the manifest lists")
    signed: dict[int, tuple[int, str]] = {}
    for checkpoint in checkpoints:
        problem = _checkpoint_problem(checkpoint, chain, keys)
        if problem:
            result.fail(CHECKPOINTS_FILE, f"checkpoint {checkpoint.get('id')}: {problem}")
            continue
        seq, head = checkpoint["heads"][chain]
        signed[seq] = (checkpoint["id"], head)
    return signed


def _checkpoint_problem(
    checkpoint: dict[str, Any], chain: str | None, keys: dict[str, Ed25519PublicKey]
) -> str | None:
    try:
        created_at = datetime.fromisoformat(checkpoint["created_at"])
        fields = {
            "created_at": created_at,
            "heads": checkpoint["heads"],
            "prev_hash": checkpoint["prev_hash"],
        }
        seq, _ = checkpoint["heads"][chain]
        own, key_id = checkpoint["hash"], checkpoint["key_id"]
        message = checkpoint_message(checkpoint_id=checkpoint["id"], **fields)
        signature = checkpoint["signature"].encode()
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return f"not a checkpoint record ({error})"
    if not isinstance(seq, int):
        return f"not a checkpoint record (head of {chain} has no sequence number)"
    key = keys.get(key_id)
    if key is None:
        return f"signed with key {str(key_id)[:16]}…, which was not given to verify with"
    if not sign.signature_valid(message, signature, key):
        return "its signature does not verify: it was changed after it was signed"
    if checkpoint_hash(**fields) != own:
        return "its content does not match its hash"
    return None


def _check_reached(result: PackVerification, signed: dict[int, tuple[int, str]]) -> None:
    """Every signed head must be an event the pack walked, with that very hash."""
    for seq, (checkpoint, head) in sorted(signed.items()):
        held = result.hashes.get(seq)
        if held is None:
            if result.ok:
                result.fail(
                    CHECKPOINTS_FILE,
                    f"checkpoint {checkpoint} signed seq {seq}, which the pack's events do "
                    "not reach",
                )
            continue
        if held != head:
            last = (result.manifest.get("audit_chain") or {}).get("last_seq") or 0
            result.fail(
                AUDIT_FILE if seq <= last else TAIL_FILE,
                f"the event at seq {seq} hashes to {held[:16]}…, but checkpoint {checkpoint} "
                f"signed {head[:16]}… there: the events were changed after it was signed",
            )
            continue
        result.checkpoints.append((checkpoint, seq))


def _check_event(line: bytes, seq: int | None, prev: str | None, chain: str | None) -> Break | None:
    try:
        event = json.loads(line)
        fields = {name: event[name] for name in HASHED_FIELDS}
        fields.update({name: event[name] for name in HASHED_WHEN_SET if name in event})
        fields["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
        own = event["hash"]
    except (ValueError, KeyError, TypeError) as error:
        return Break(str(chain), seq or 0, f"not an audit event ({error})")
    at = event.get("seq") if isinstance(event.get("seq"), int) else seq or 0
    if event["chain"] != chain or event["seq"] != seq:
        return Break(str(chain), at, f"expected {chain} seq {seq}: an event is missing or moved")
    if event["prev_hash"] != prev:
        return Break(str(chain), at, "does not link to the event before it")
    if event_hash(fields) != own:
        return Break(str(chain), at, "content does not match its hash")
    return None

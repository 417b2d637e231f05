"""Checking an evidence pack away from the database that made it: every digest, the signature,
and the audit chain segment it carries.

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

from governance.audit.hashing import HASHED_FIELDS, HASHED_WHEN_SET, event_hash
from governance.audit.verify_chain import Break
from governance.evidence import sign
from governance.evidence.pack.archive import AUDIT_FILE, FORMAT, MANIFEST, SIGNATURE

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

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, file: str, reason: str) -> None:
        self.problems.append(Problem(file, reason))


def verify_pack(pack: str | Path | IO[bytes], *, public_key: Ed25519PublicKey) -> PackVerification:
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
        if result.manifest.get("format") != FORMAT:
            result.fail(MANIFEST, f"unknown format {result.manifest.get('format')!r}")
        _check_files(archive, result)
        _check_chain(archive, result)
    return result


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


def _check_chain(archive: zipfile.ZipFile, result: PackVerification) -> None:
    """Walk the JSON Lines from the manifest's first hash to its last, link by link."""
    segment = result.manifest.get("audit_chain") or {}
    expected = segment.get("events", 0)
    seq, prev = segment.get("first_seq"), segment.get("anchor_hash")
    last_hash = None
    count = 0
    try:
        handle = archive.open(AUDIT_FILE)
    except KeyError:
        result.fail(AUDIT_FILE, "missing from the pack")
        return
    try:
        with handle:
            for count, line in enumerate(handle, start=1):
                broken = _check_event(line, seq, prev, segment.get("chain"))
                if broken is not None:
                    result.fail(AUDIT_FILE, f"line {count}: {broken}")
                    return
                event = json.loads(line)
                seq, prev, last_hash = event["seq"] + 1, event["hash"], event["hash"]
                if count == 1 and event["hash"] != segment.get("first_hash"):
                    result.fail(AUDIT_FILE, "the first event is not the manifest's first hash")
                    return
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        result.fail(AUDIT_FILE, f"cannot be read: {error}")
        return
    result.events = count
    if segment.get("last_seq") and segment["last_seq"] > segment.get("head_seq", 0):
        result.fail(MANIFEST, "the segment ends after the chain head it cites")
    if count != expected:
        result.fail(AUDIT_FILE, f"holds {count} events, the manifest says {expected}")
    elif expected and last_hash != segment.get("last_hash"):
        result.fail(AUDIT_FILE, "the chain does not end at the manifest's last hash")


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

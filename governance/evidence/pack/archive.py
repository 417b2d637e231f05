"""The signed evidence pack: a ZIP written as it streams, in bounded memory.

Every file is hashed as its bytes pass into the archive; the manifest (each file's sha256 and
size, the system, the period, the audit chain's segment and head) is generated last, once
every digest is known, and signed with Ed25519 in `manifest.sig` beside it. Everything is
read in one REPEATABLE READ snapshot, so the files agree with each other and with the chain
head the manifest cites, however long the download takes.

What can fail beyond reading rows (the answers, the control mapping, the report in HTML and
PDF) is built in that snapshot before the first byte (`EvidencePack.prepare`), so a failure
there is an error the caller can still answer with, never a ZIP cut short. It is held while
the files stream: its size follows the period's releases and incidents, not its audit events.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from governance.audit.chain import chain_name, seal_pending
from governance.evidence import sign
from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack import sections as pack_sections
from governance.evidence.pack.audit import (
    ChainSegment,
    chain_segment,
    event_lines,
    events_between,
)
from governance.evidence.pack.checkpoints import (
    CHECKPOINTS_FILE,
    TAIL_FILE,
    PackCheckpoints,
    pack_checkpoints,
)
from governance.evidence.pack.formats import csv_document, dumps, json_document

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem

# /2 adds the signed audit checkpoints (`audit_checkpoints` in the manifest, two files);
# a /1 pack, without them, still verifies.
FORMAT = "failsafe-evidence-pack/2"
FORMATS = ("failsafe-evidence-pack/1", FORMAT)
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
AUDIT_FILE = "audit_events.jsonl"
# Small files are deflated (zlib's default level): they compress well and cheaply. The audit
# trail is most of a big pack, and deflating it, even at level 1, takes longer than PostgreSQL
# takes to read it out: it is stored as it is, so an export keeps pace with the database
# (bench/evidence_export.py measures both).
AUDIT_COMPRESSION: dict[str, Any] = {"compress_type": ZIP_STORED}


def generator_version() -> str:
    try:
        return importlib.metadata.version("failsafe")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class PackFile:
    """One file of the pack, hashed and measured as it streams."""

    path: str
    kind: str | None
    rows: int | None = None
    sha256: str = ""
    size: int = 0

    def track(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest = hashlib.sha256()
        size = 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        self.sha256, self.size = digest.hexdigest(), size

    def count(self) -> None:
        self.rows = (self.rows or 0) + 1

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.rows is not None:
            entry["rows"] = self.rows
        entry.update(sha256=self.sha256, size=self.size)
        return entry


def _lazy(make: Callable[[], bytes]) -> Iterator[bytes]:
    """Bytes computed only when the archive reaches this file (after every file before it)."""
    yield make()


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the database for the whole pack."""
    if connection.in_atomic_block:  # a caller's transaction (tests): read inside it
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # READ ONLY: an export reads the record, it never changes it (the export's own
            # audit event is written after, by on_complete or on_failure).
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@dataclass
class EvidencePack:
    """`prepare()` it, then iterate it for the ZIP's bytes.

    `prepare()` opens the snapshot and builds, before any byte exists, every part that is not a
    plain copy of rows: the counts, the auditor's answers, the control mapping and the report
    in HTML and PDF. Whatever fails there fails while the caller can still answer with an
    error instead of a ZIP. Iterating then streams the files from the same snapshot.
    `on_complete` runs once the last byte is produced; `on_failure` if the stream breaks after
    it began (the bytes sent cannot be taken back, but the failure is told).
    """

    system: AISystem
    period: PackPeriod
    exported_by: str
    key: Ed25519PrivateKey
    on_complete: Callable[[EvidencePack], None] | None = None
    on_failure: Callable[[EvidencePack, BaseException], None] | None = None
    files: list[PackFile] = field(default_factory=list)
    segment: ChainSegment | None = None
    checkpoints: PackCheckpoints | None = None
    generated_at: str = ""
    manifest_sha256: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    mapping: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # per section, counted in `prepare`
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, in `prepare`
    report: Any = None  # the report's content, built once for the HTML and the PDF
    report_html: bytes = b""
    report_pdf: bytes = b""
    manifest_bytes: bytes = b""
    _stream: Generator[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def filename(self) -> str:
        return (
            f"evidence-{self.system.slug}-{self.period.first_day:%Y%m%d}"
            f"-{self.period.last_day:%Y%m%d}.zip"
        )

    def prepare(self) -> None:
        """Open the snapshot and build everything that can fail. Raises what went wrong; the
        snapshot is closed again then.

        Otherwise the snapshot stays open on this thread's connection, past the view's return,
        until the last byte: the response closes the pack however the download ends, and a
        pack dropped unread closes when it is collected (its generator's `with` exits)."""
        if self._stream is not None:
            return
        stream = self._run()
        next(stream)  # runs up to the first yield: prepared, inside the open snapshot
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        self.prepare()
        assert self._stream is not None
        return self._stream

    def close(self) -> None:
        """Give the snapshot back: a response closed before (or without) being read."""
        if self._stream is not None:
            self._stream.close()

    def _run(self) -> Generator[bytes]:
        # Events written but not sealed yet get their place in the chain first (as verify does).
        seal_pending(chain_name(self.system.pk))
        started = False
        try:
            with _snapshot():
                self._prepare()
                yield b""  # prepared: nothing has been sent
                started = True
                # No level given: one given would also apply to (and warn about) the stored
                # file.
                archive = ZipStream(compress_type=ZIP_DEFLATED)
                self._add_files(archive)
                yield from archive
        except Exception as error:
            if started and self.on_failure is not None:
                self.on_failure(self, error)
            raise
        if self.on_complete is not None:
            self.on_complete(self)

    def _prepare(self) -> None:
        from governance.evidence import report
        from governance.evidence.pack.answers import answers, mapping

        self.generated_at = timezone.now().isoformat()
        self.segment = chain_segment(self.system, self.period)
        self.checkpoints = pack_checkpoints(self.segment)
        # Counted from the rows the files will hold, in the same snapshot: the report's figures
        # are known before the files stream, and a section that cannot be read fails here.
        self.rows = {
            section.name: sum(1 for _ in section.rows(self.system, self.period))
            for section in pack_sections.sections()
        }
        self.documents = {
            document.name: document.build(self.system, self.period)
            for document in pack_sections.documents()
        }
        self.answers = answers(self.system, self.period)
        self.mapping = mapping(self.system, self.period)
        self.report = report.report_content(self)
        self.report_html = report.render_html(self)
        self.report_pdf = report.render_pdf(self)

    # --- the files, in the order they are written -------------------------------------------

    def _file(self, archive: ZipStream, path: str, kind: str | None, chunks: Iterable[bytes],
              **options: Any) -> PackFile:  # fmt: skip
        entry = PackFile(path=path, kind=kind)
        self.files.append(entry)
        archive.add(entry.track(chunks), path, **options)
        return entry

    def _add_files(self, archive: ZipStream) -> None:
        self._file(archive, "README.txt", None, _lazy(self._readme))
        for section in pack_sections.sections():
            self._add_section(archive, section)
        self._file(
            archive,
            AUDIT_FILE,
            EvidenceKind.AUDIT_EVENT,
            self._audit_lines(),
            **AUDIT_COMPRESSION,
        )
        self._file(archive, TAIL_FILE, EvidenceKind.AUDIT_EVENT, self._tail_lines())
        self._file(archive, CHECKPOINTS_FILE, EvidenceKind.AUDIT_EVENT, _lazy(self._checkpoints))
        self._file(archive, "controls.json", None, _lazy(self._controls))
        self._file(archive, "questions.json", None, _lazy(self._questions))
        for name, content in self.documents.items():
            self._file(archive, f"{name}.json", None, [(dumps(content, indent=2) + "\n").encode()])
        self._file(archive, "report.html", None, [self.report_html])
        self._file(archive, "report.pdf", None, [self.report_pdf])
        # Last: by now every file above has streamed and its digest is known.
        manifest = _lazy(self._manifest)
        archive.add(manifest, MANIFEST)
        archive.add(_lazy(self._signature), SIGNATURE)

    def _add_section(self, archive: ZipStream, section: pack_sections.Section) -> None:
        header = {
            "section": section.name,
            "kind": section.kind.value,
            "title": section.title,
            "system": self.system.slug,
            "period": self.period.as_json(),
        }
        entry = PackFile(path=f"{section.name}.json", kind=section.kind.value, rows=0)
        self.files.append(entry)
        rows = section.rows(self.system, self.period)
        archive.add(entry.track(json_document(header, rows, entry.count)), entry.path)
        # The CSV reads the rows again: twice the queries, never the section in memory.
        self._file(
            archive,
            f"{section.name}.csv",
            section.kind.value,
            csv_document(section.columns, section.rows(self.system, self.period)),
        )

    def _audit_lines(self) -> Iterator[bytes]:
        assert self.segment is not None
        yield from event_lines(self.segment)

    def _tail_lines(self) -> Iterator[bytes]:
        """The events after the period up to the head a carried checkpoint signed."""
        assert self.checkpoints is not None
        first, last = self.checkpoints.tail_first_seq, self.checkpoints.tail_last_seq
        if first is not None and last is not None:
            yield from events_between(self.checkpoints.chain, first, last)

    # --- generated files ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Rows per section and the audit events, known once prepared (for the report)."""
        counts = dict(self.rows)
        if self.segment is not None:
            counts["audit_events"] = self.segment.events
        return counts

    def _readme(self) -> bytes:
        return (
            f"Evidence pack of {self.system.name} ({self.system.slug}), "
            f"{self.period.label} (UTC, both days included).\n"
            "Generated by Failsafe. manifest.json lists every file with its sha256 and size, "
            "and the audit chain segment;\nmanifest.sig is its Ed25519 signature (base64). "
            "audit_checkpoints.json holds the audit\ncheckpoints, signed when they were "
            "written, that the segment's events (and audit_events_after.jsonl)\nmust hash "
            "up to.\n"
            "Verify with: python manage.py verify_evidence <pack.zip> [--public-key key.pem]\n"
        ).encode()

    def _questions(self) -> bytes:
        return (dumps(self.answers, indent=2) + "\n").encode()

    def _checkpoints(self) -> bytes:
        assert self.checkpoints is not None
        return (dumps(self.checkpoints.document(), indent=2) + "\n").encode()

    def _controls(self) -> bytes:
        return (dumps({"controls": self.mapping}, indent=2) + "\n").encode()

    def manifest(self) -> dict[str, Any]:
        assert self.segment is not None
        public = self.key.public_key()
        return {
            "format": FORMAT,
            "generator": {"name": "failsafe", "version": generator_version()},
            "generated_at": self.generated_at,
            "exported_by": self.exported_by,
            "system": {
                "id": self.system.pk,
                "slug": self.system.slug,
                "name": self.system.name,
                "risk_category": self.system.risk_category,
            },
            "period": self.period.as_json(),
            "audit_chain": self.segment.as_json(),
            "audit_checkpoints": self.checkpoints.as_json() if self.checkpoints else None,
            "files": [entry.as_json() for entry in self.files],
            "signature": {"algorithm": "Ed25519", "file": SIGNATURE, "key_id": sign.key_id(public)},
        }

    def _manifest(self) -> bytes:
        data = (dumps(self.manifest(), indent=2) + "\n").encode()
        self.manifest_bytes = data
        self.manifest_sha256 = hashlib.sha256(data).hexdigest()
        return data

    def _signature(self) -> bytes:
        return sign.sign(self.manifest_bytes, self.key)

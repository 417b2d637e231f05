"""`verify_evidence`: a fresh pack passes; any altered byte, any other signer, any gap in the
audit chain fails, naming the file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.audit import record_event
from governance.audit.chain import chain_name, seal_pending
from governance.audit.checkpoint import write_checkpoint
from governance.audit.context import current_credential
from governance.evidence import sign
from governance.evidence.pack import sections as pack_sections
from governance.evidence.pack.period import PackPeriod
from governance.evidence.pack.services import export_evidence_pack

OCTOBER = PackPeriod(date(2026, 10, 1), date(2026, 10, 31))
KEY_PEM = sign.generate_private_pem()
OTHER_KEY = sign.load_private_key(sign.generate_private_pem())

# Every file a pack holds: the parametrisation below alters each one in turn
# (test_the_list_is_every_file_of_a_pack keeps it honest).
PACK_FILES = [
    "README.txt",
    *[f"{s.name}.{ext}" for s in pack_sections.sections() for ext in ("json", "csv")],
    "audit_events.jsonl", "audit_events_after.jsonl", "audit_checkpoints.json",
    "controls.json", "questions.json",
    *[f"{d.name}.json" for d in pack_sections.documents()],
    "report.html", "report.pdf", "manifest.json", "manifest.sig",
]  # fmt: skip

_built: dict[str, bytes] = {}


@pytest.fixture
def fresh_pack(request, settings) -> bytes:  # type: ignore[no-untyped-def]
    """One pack of the October history, built once for the module (it takes a second)."""
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    settings.AUDIT_CHECKPOINT_KEY = ""  # the evidence key signs the checkpoints too (the default)
    if "pack" not in _built:
        history = request.getfixturevalue("evidence_history")
        compliance = request.getfixturevalue("compliance")
        # Two events in November, then a checkpoint: the pack carries it, with the two events
        # that lead from October's last to the head it signed.
        with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=UTC), tick=False):
            for n in range(2):
                with transaction.atomic():
                    record_event(actor=None, action="test.november", system=history.system,
                                 after={"n": n})  # fmt: skip
        seal_pending(chain_name(history.system.pk))
        write_checkpoint()
        pack = export_evidence_pack(actor=compliance, system=history.system, period=OCTOBER)
        _built["pack"] = b"".join(pack)
    return _built["pack"]


def rewrite(data: bytes, changes: dict[str, bytes]) -> bytes:
    """The same archive with some files' content replaced (as someone editing the pack would)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, changes.get(info.filename, source.read(info)))
    return out.getvalue()


def verify(tmp_path: Path, data: bytes, *args: str) -> str:
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_evidence", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def verify_fails(tmp_path: Path, data: bytes, *args: str) -> str:
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_evidence", str(path), *args, stdout=io.StringIO(), stderr=err)
    return f"{failure.value}\n{err.getvalue()}"


@pytest.mark.django_db
def test_a_fresh_pack_verifies(fresh_pack, tmp_path):
    output = verify(tmp_path, fresh_pack)
    assert output.startswith("OK:")
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(fresh_pack)).read("manifest.json"))
    assert f"{manifest['audit_chain']['events']} audit events" in output
    last = manifest["audit_chain"]["last_seq"]
    assert manifest["audit_checkpoints"]["tail_first_seq"] == last + 1
    assert manifest["audit_checkpoints"]["tail_last_seq"] == last + 2
    checkpoint = manifest["audit_checkpoints"]["ids"][0]
    assert f"signed checkpoint heads at seq {last + 2} (checkpoint {checkpoint})" in output
    assert len(manifest["files"]) == len(PACK_FILES) - 2


@pytest.mark.django_db
def test_the_list_is_every_file_of_a_pack(fresh_pack):
    assert zipfile.ZipFile(io.BytesIO(fresh_pack)).namelist() == PACK_FILES


@pytest.mark.django_db
def test_it_verifies_with_the_public_key_alone(fresh_pack, tmp_path, settings):
    public = tmp_path / "signer.pem"
    public.write_bytes(sign.public_pem(sign.load_private_key(KEY_PEM).public_key()))
    settings.EVIDENCE_SIGNING_KEY = ""  # an auditor's machine holds no private key
    assert verify(tmp_path, fresh_pack, "--public-key", str(public)).startswith("OK:")


@pytest.mark.django_db
@pytest.mark.parametrize("name", PACK_FILES)
def test_changing_any_byte_of_any_file_fails_naming_it(fresh_pack, tmp_path, name):
    content = zipfile.ZipFile(io.BytesIO(fresh_pack)).read(name)
    assert content or name == "audit_events.jsonl"
    altered = bytearray(content)
    middle = len(altered) // 2
    altered[middle] ^= 0x01  # one bit of one byte
    report = verify_fails(tmp_path, rewrite(fresh_pack, {name: bytes(altered)}))
    assert name in report.splitlines()[0]


@pytest.mark.django_db
def test_a_pack_resigned_with_another_key_fails(fresh_pack, tmp_path):
    archive = zipfile.ZipFile(io.BytesIO(fresh_pack))
    manifest = archive.read("manifest.json")
    resigned = rewrite(fresh_pack, {"manifest.sig": sign.sign(manifest, OTHER_KEY)})
    report = verify_fails(tmp_path, resigned)
    assert "manifest.sig" in report and "signature does not verify" in report


@pytest.mark.django_db
def test_an_edit_covered_by_a_new_manifest_and_another_key_fails(fresh_pack, tmp_path):
    """Someone rewrites a file, fixes its digest in the manifest and signs with their own key."""
    archive = zipfile.ZipFile(io.BytesIO(fresh_pack))
    approvals = archive.read("approvals.csv").replace(b"rita", b"ravi")
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["files"]:
        if entry["path"] == "approvals.csv":
            entry["sha256"] = hashlib.sha256(approvals).hexdigest()
            entry["size"] = len(approvals)
    forged = json.dumps(manifest, indent=2).encode()
    data = rewrite(fresh_pack, {"approvals.csv": approvals, "manifest.json": forged,
                                "manifest.sig": sign.sign(forged, OTHER_KEY)})  # fmt: skip
    report = verify_fails(tmp_path, data)
    assert "manifest.sig" in report
    assert "approvals.csv" not in report  # the digests agree: only the signature gives it away


@pytest.mark.django_db
def test_a_gap_in_the_audit_chain_fails_even_with_a_good_signature(fresh_pack, tmp_path):
    """A pack whose digests and signature agree but whose chain skips an event: the signer's
    own mistake (or a compromised key) still cannot hide a missing event."""
    archive = zipfile.ZipFile(io.BytesIO(fresh_pack))
    lines = archive.read("audit_events.jsonl").splitlines(keepends=True)
    events = b"".join(lines[:3] + lines[4:])
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["files"]:
        if entry["path"] == "audit_events.jsonl":
            entry["sha256"], entry["size"] = hashlib.sha256(events).hexdigest(), len(events)
    signed = json.dumps(manifest, indent=2).encode()
    key = sign.load_private_key(KEY_PEM)
    data = rewrite(fresh_pack, {"audit_events.jsonl": events, "manifest.json": signed,
                                "manifest.sig": sign.sign(signed, key)})  # fmt: skip
    report = verify_fails(tmp_path, data)
    assert report.splitlines()[0].endswith(
        f"audit_events.jsonl: line 4: chain {manifest['audit_chain']['chain']} is broken at "
        f"seq {manifest['audit_chain']['first_seq'] + 4}: expected "
        f"{manifest['audit_chain']['chain']} seq {manifest['audit_chain']['first_seq'] + 3}: an "
        "event is missing or moved"
    )


@pytest.mark.django_db
def test_a_damaged_archive_fails_naming_the_file(fresh_pack, tmp_path):
    """Bytes flipped in the compressed data itself, not through a rewrite."""
    archive = zipfile.ZipFile(io.BytesIO(fresh_pack))
    info = archive.getinfo("releases.json")
    data = bytearray(fresh_pack)
    data[info.header_offset + 30 + len(info.filename) + 40 + info.compress_size // 2] ^= 0xFF
    report = verify_fails(tmp_path, bytes(data))
    assert "releases.json" in report


@pytest.mark.django_db
def test_export_evidence_writes_a_pack_that_verifies(evidence_history, compliance, tmp_path,
                                                     settings):  # fmt: skip
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    path = tmp_path / "pack.zip"
    out = io.StringIO()
    call_command("export_evidence", "--system", "fraud", "--from", "2026-10-01", "--to",
                 "2026-10-31", "-o", str(path), "--as", "carl", stdout=out)  # fmt: skip
    assert f"Wrote {path}" in out.getvalue()
    assert verify(tmp_path, path.read_bytes()).startswith("OK:")


@pytest.mark.django_db
def test_a_pack_of_a_quiet_period_verifies(fraud, compliance, tmp_path, settings):
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    quiet = PackPeriod(date(2020, 1, 1), date(2020, 1, 31))
    data = b"".join(export_evidence_pack(actor=compliance, system=fraud, period=quiet))
    assert "0 audit events" in verify(tmp_path, data)


def resigned(data: bytes, name: str, content: bytes) -> bytes:
    """`name` replaced, its digest fixed in the manifest, signed again with the real key: what
    only the signer (or a thief of the key) could make."""
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry["sha256"], entry["size"] = hashlib.sha256(content).hexdigest(), len(content)
    signed = json.dumps(manifest, indent=2).encode()
    signature = sign.sign(signed, sign.load_private_key(KEY_PEM))
    return rewrite(data, {name: content, "manifest.json": signed, "manifest.sig": signature})


@pytest.mark.django_db
def test_the_credential_of_an_event_travels_in_the_pack_under_its_hash(
    fraud, registrar, compliance, tmp_path, settings
):
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    via = "API token fsk_ab12cd… release-bot"
    token = current_credential.set(via)
    try:
        with transaction.atomic():
            record_event(actor=registrar, action="test.by_token", system=fraud, after={"n": 1})
    finally:
        current_credential.reset(token)
    seal_pending(chain_name(fraud.pk))
    today = timezone.now().date()
    data = b"".join(
        export_evidence_pack(actor=compliance, system=fraud, period=PackPeriod(today, today))
    )
    assert verify(tmp_path, data).startswith("OK:")
    lines = zipfile.ZipFile(io.BytesIO(data)).read("audit_events.jsonl").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["credential"] for e in events if e["action"] == "test.by_token"] == [via]
    assert all("credential" not in e for e in events if e["action"] != "test.by_token")

    forged = b"\n".join(lines).replace(b"release-bot", b"a-person").rstrip(b"\n") + b"\n"
    report = verify_fails(tmp_path, resigned(data, "audit_events.jsonl", forged))
    assert "content does not match its hash" in report


@pytest.mark.django_db(transaction=True)
def test_a_pack_is_read_in_a_read_only_snapshot_and_writes_nothing(
    fraud, compliance, tmp_path, settings
):
    """Outside a test's transaction the export opens its own: REPEATABLE READ, READ ONLY.
    A system whose gate policy was never changed answers with its tier's defaults, unsaved."""
    from releases.models import GatePolicy

    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    assert not GatePolicy.objects.exists()
    today = timezone.now().date()
    with CaptureQueriesContext(connection) as queries:
        data = b"".join(
            export_evidence_pack(actor=compliance, system=fraud, period=PackPeriod(today, today))
        )
    assert verify(tmp_path, data).startswith("OK:")
    statements = [query["sql"] for query in queries.captured_queries]
    assert "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY" in statements
    writes = [sql for sql in statements if sql.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    # Only the export's own audit event, written after the snapshot, and its sealing.
    assert writes and all("governance_audit" in sql for sql in writes)
    assert not GatePolicy.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--system", "nope", "--from", "2026-10-01", "--to", "2026-10-31"], "no AI system"),
        (["--system", "fraud", "--from", "2026-10-31", "--to", "2026-10-01"], "ends before"),
        (["--system", "fraud", "--from", "31/10/2026", "--to", "2026-10-31"], "YYYY-MM-DD"),
        (["--system", "fraud", "--from", "2026-10-01", "--to", "2026-10-31", "--as", "vic"],
         "may not"),
    ],
)  # fmt: skip
def test_export_evidence_refuses_bad_input(fraud, viewer, tmp_path, settings, args, message):
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    with pytest.raises(CommandError, match=message):
        call_command("export_evidence", *args, "-o", str(tmp_path / "pack.zip"))
    assert not (tmp_path / "pack.zip").exists()

"""An evidence pack carries the signed audit checkpoints its events reach: with the public keys
alone, a verifier finds events rewritten in the database before the export (every hash after
them recomputed), and a checkpoint or an event altered in the pack."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import transaction

from governance.audit import record_event
from governance.audit.chain import chain_name, seal_pending
from governance.audit.checkpoint import write_checkpoint
from governance.audit.hashing import event_hash
from governance.evidence import sign
from governance.evidence.pack.period import PackPeriod
from governance.evidence.pack.services import export_evidence_pack
from tests.evidence.test_verify import KEY_PEM, resigned, rewrite, verify, verify_fails
from tests.governance.superuser import rewrite_event

pytestmark = pytest.mark.django_db

OCTOBER = PackPeriod(date(2026, 10, 1), date(2026, 10, 31))
CHECKPOINT_PEM = sign.generate_private_pem()


def append(system, n: int, when: datetime) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(when, tick=False):
        for i in range(n):
            with transaction.atomic():
                record_event(actor=None, action="test.event", system=system, after={"i": i})
    seal_pending(chain_name(system.pk))


@pytest.fixture
def trail(fraud, settings):  # type: ignore[no-untyped-def]
    """fraud's chain: system.created (seq 1, today); Oct 10 seq 2-4, checkpoint A (head 4);
    Oct 11 seq 5-6; Nov 2 seq 7-8, checkpoint B (head 8). October's segment is 2-6: the pack
    carries A (inside it) and B, with seq 7-8 leading to B's head."""
    settings.EVIDENCE_SIGNING_KEY = KEY_PEM.decode()
    settings.AUDIT_CHECKPOINT_KEY = CHECKPOINT_PEM.decode()  # a key of their own
    append(fraud, 3, datetime(2026, 10, 10, 9, tzinfo=UTC))
    first = write_checkpoint()
    append(fraud, 2, datetime(2026, 10, 11, 9, tzinfo=UTC))
    append(fraud, 2, datetime(2026, 11, 2, 9, tzinfo=UTC))
    second = write_checkpoint()
    chain = chain_name(fraud.pk)
    assert (first.heads[chain][0], second.heads[chain][0]) == (4, 8)
    return chain, first, second


def export(fraud, compliance) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(export_evidence_pack(actor=compliance, system=fraud, period=OCTOBER))


@pytest.fixture
def keys(tmp_path):  # type: ignore[no-untyped-def]
    """The auditor's two public keys, and nothing else of Failsafe's."""
    paths = []
    for name, pem in (("evidence", KEY_PEM), ("checkpoints", CHECKPOINT_PEM)):
        path = tmp_path / f"{name}.pub.pem"
        path.write_bytes(sign.public_pem(sign.load_private_key(pem).public_key()))
        paths.append(str(path))
    return ["--public-key", paths[0], "--checkpoint-public-key", paths[1]]


def test_the_pack_reaches_the_signed_heads_with_the_public_keys_alone(
    trail, fraud, compliance, keys, tmp_path, settings
):
    _, first, second = trail
    data = export(fraud, compliance)
    settings.EVIDENCE_SIGNING_KEY = settings.AUDIT_CHECKPOINT_KEY = ""  # an auditor's machine
    output = verify(tmp_path, data, *keys)
    assert output.startswith("OK:")
    assert (
        f"the events hash up to the signed checkpoint heads at seq 4 (checkpoint {first.pk}), "
        f"8 (checkpoint {second.pk})"
    ) in output
    archive = zipfile.ZipFile(io.BytesIO(data))
    carried = json.loads(archive.read("audit_checkpoints.json"))["checkpoints"]
    assert [c["id"] for c in carried] == [first.pk, second.pk]
    tail = [
        json.loads(line)["seq"] for line in archive.read("audit_events_after.jsonl").splitlines()
    ]
    assert tail == [7, 8]
    # Without the checkpoints' key, their signatures cannot be checked: that is a failure.
    report = verify_fails(tmp_path, data, *keys[:2])
    assert f"audit_checkpoints.json: checkpoint {first.pk}: signed with key" in report


@pytest.mark.parametrize(
    ("seq", "file", "head"),
    [(3, "audit_events.jsonl", 4), (7, "audit_events_after.jsonl", 8)],
)
def test_events_rewritten_in_the_database_before_the_export_fail(
    trail, fraud, compliance, keys, tmp_path, seq, file, head
):
    """A database superuser rewrites an event and rehashes the chain after it; the app then
    exports and signs the pack in good faith. The signed checkpoints give it away."""
    chain, first, second = trail
    rewrite_event(chain, seq, {"i": "forged"})
    data = export(fraud, compliance)
    report = verify_fails(tmp_path, data, *keys)
    checkpoint = first if head == 4 else second
    first_problem = report.splitlines()[0]
    assert f"{file}: the event at seq {head} hashes to " in first_problem
    assert f"but checkpoint {checkpoint.pk} signed" in first_problem


def test_a_checkpoint_altered_in_the_pack_fails(trail, fraud, compliance, keys, tmp_path):
    """Even by whoever holds the evidence key: the checkpoint's own signature no longer fits."""
    _, first, _ = trail
    data = export(fraud, compliance)
    document = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("audit_checkpoints.json"))
    document["checkpoints"][0]["created_at"] = "2026-10-10T09:00:00.000001+00:00"
    altered = (json.dumps(document, indent=2) + "\n").encode()
    report = verify_fails(tmp_path, resigned(data, "audit_checkpoints.json", altered), *keys)
    assert (
        f"audit_checkpoints.json: checkpoint {first.pk}: its signature does not verify"
    ) in report


def test_an_event_altered_and_rehashed_in_the_pack_fails_at_the_signed_head(
    trail, fraud, compliance, keys, tmp_path
):
    """The events' chain in the pack is whole again (every later hash recomputed, the manifest
    re-signed with the evidence key): the checkpoint's signed head is not reached."""
    _, first, _ = trail
    data = export(fraud, compliance)
    archive = zipfile.ZipFile(io.BytesIO(data))
    events = [json.loads(line) for line in archive.read("audit_events.jsonl").splitlines()]
    tail = [json.loads(line) for line in archive.read("audit_events_after.jsonl").splitlines()]
    prev = events[0]["prev_hash"]
    for event in events + tail:
        if event["seq"] == 3:
            event["after"] = {"i": "forged"}
        event["prev_hash"] = prev
        fields = dict(event, occurred_at=datetime.fromisoformat(event["occurred_at"]))
        prev = event["hash"] = event_hash(fields)

    def lines(rows: list[dict]) -> bytes:
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)

    manifest = json.loads(archive.read("manifest.json"))
    manifest["audit_chain"]["last_hash"] = events[-1]["hash"]
    manifest["audit_chain"]["first_hash"] = events[0]["hash"]
    altered = rewrite(data, {"manifest.json": json.dumps(manifest, indent=2).encode()})
    altered = resigned(altered, "audit_events_after.jsonl", lines(tail))
    altered = resigned(altered, "audit_events.jsonl", lines(events))
    report = verify_fails(tmp_path, altered, *keys)
    assert report.splitlines()[0].endswith(
        f"audit_events.jsonl: the event at seq 4 hashes to {events[2]['hash'][:16]}…, but "
        f"checkpoint {first.pk} signed {first.heads[events[0]['chain']][1][:16]}… there: the "
        "events were changed after it was signed"
    )


def test_a_pack_of_the_first_format_still_verifies(trail, fraud, compliance, keys, tmp_path):
    data = export(fraud, compliance)
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    new = {"audit_events_after.jsonl", "audit_checkpoints.json"}
    manifest["format"] = "failsafe-evidence-pack/1"
    manifest.pop("audit_checkpoints")
    manifest["files"] = [entry for entry in manifest["files"] if entry["path"] not in new]
    signed = json.dumps(manifest, indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as old:
        for name in archive.namelist():
            if name not in new | {"manifest.json", "manifest.sig"}:
                old.writestr(name, archive.read(name))
        old.writestr("manifest.json", signed)
        old.writestr("manifest.sig", sign.sign(signed, sign.load_private_key(KEY_PEM)))
    output = verify(tmp_path, out.getvalue(), *keys)
    assert output.startswith("OK:")
    assert "checkpoint" not in output

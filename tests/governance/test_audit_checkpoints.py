"""Signed checkpoints: a database superuser who rewrites the trail and recomputes every hash,
checkpoints included, is found at the first checkpoint they rewrote; the sink outside the
database finds what the database alone cannot (a removed last checkpoint, a re-signed one)."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from governance.audit import record_event
from governance.audit.chain import chain_name, seal_pending
from governance.audit.checkpoint import write_checkpoint
from governance.audit.hashing import checkpoint_message
from governance.audit.sink import record
from governance.audit.verify_chain import verify_all, verify_chain
from governance.audit.verify_checkpoints import signature_valid
from governance.evidence import sign
from governance.models import AuditCheckpoint, AuditEvent
from tests.governance.superuser import recompute_checkpoints, rewrite_event, triggers_off

pytestmark = pytest.mark.django_db

OTHER_KEY = sign.load_private_key(sign.generate_private_pem())


def suite_key():  # type: ignore[no-untyped-def]
    """The run's checkpoint key (tests/services.py sets AUDIT_CHECKPOINT_KEY)."""
    return sign.load_private_key(django_settings.AUDIT_CHECKPOINT_KEY)


def append(system, actor, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with transaction.atomic():
            record_event(actor=actor, action="test.event", system=system, after={"i": i})
    seal_pending(chain_name(system.pk))  # nothing commits inside a test: seal by hand


@pytest.fixture
def trail(fraud, registrar):  # type: ignore[no-untyped-def]
    """fraud's chain: seq 1-3, checkpoint A (head 3), seq 4-6, checkpoint B (head 6), seq 7-8,
    checkpoint C (head 8)."""
    append(fraud, registrar, 2)
    first = write_checkpoint()
    append(fraud, registrar, 3)
    second = write_checkpoint()
    append(fraud, registrar, 2)
    third = write_checkpoint()
    chain = chain_name(fraud.pk)
    assert [c.heads[chain][0] for c in (first, second, third)] == [3, 6, 8]
    return chain, [first, second, third]


def verify(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_fails(*args: str) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", *args, stdout=io.StringIO(), stderr=err)
    return f"{failure.value}\n{err.getvalue()}"


def public_key_file(tmp_path, key) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "checkpoints.pub.pem"
    path.write_bytes(sign.public_pem(key.public_key()))
    return str(path)


def test_a_checkpoint_is_signed_over_its_id_time_heads_and_link(trail):
    _, (first, second, _) = trail
    checkpoint = AuditCheckpoint.objects.get(pk=second.pk)
    public = suite_key().public_key()
    assert checkpoint.key_id == sign.key_id(public)
    assert signature_valid(checkpoint, public)
    assert checkpoint.prev_hash == first.hash
    message = checkpoint_message(
        checkpoint_id=checkpoint.pk, created_at=checkpoint.created_at,
        heads=checkpoint.heads, prev_hash=checkpoint.prev_hash,
    )  # fmt: skip
    assert json.loads(message)["id"] == checkpoint.pk  # a signature good for this row only
    assert not sign.signature_valid(
        message.replace(b'"id":', b'"id":1'), checkpoint.signature.encode(), public
    )


def test_without_a_key_of_its_own_the_evidence_key_signs(fraud, settings):
    settings.AUDIT_CHECKPOINT_KEY = ""
    pem = sign.generate_private_pem()
    settings.EVIDENCE_SIGNING_KEY = pem.decode()
    checkpoint = write_checkpoint()
    assert checkpoint.key_id == sign.key_id(sign.load_private_key(pem).public_key())


def test_a_checkpoint_key_that_is_not_a_key_fails_and_writes_nothing(fraud, settings):
    settings.AUDIT_CHECKPOINT_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n"
    settings.EVIDENCE_SIGNING_KEY = sign.generate_private_pem().decode()  # never a fallback
    with pytest.raises(sign.SigningKeyMissing, match="AUDIT_CHECKPOINT_KEY is not a PEM"):
        write_checkpoint()
    assert not AuditCheckpoint.objects.exists()


def test_an_untouched_trail_verifies_with_the_public_key_alone(trail, settings, tmp_path):
    key = suite_key()
    key_file = public_key_file(tmp_path, key)
    settings.AUDIT_CHECKPOINT_KEY = settings.EVIDENCE_SIGNING_KEY = ""  # an auditor's machine
    out, err = verify("--public-key", key_file, "--require-signatures")
    assert out.splitlines()[1].startswith(
        f"OK: 3 checkpoints chained, 3 signed (key {sign.key_id(key.public_key())[:16]}"
    )
    assert err == ""


@pytest.mark.parametrize("signature", ["copy", "drop"])
def test_a_full_rewrite_is_found_at_the_first_rewritten_checkpoint(trail, signature):
    chain, (_, second, third) = trail
    rehashed = rewrite_event(chain, 5, {"i": "forged"})
    assert recompute_checkpoints(chain, rehashed, signature=signature) == [second.pk, third.pk]
    # The hash chains are whole again: only the signatures tell.
    assert verify_chain(chain)[2] is None

    report = verify_fails()
    assert report.startswith(f"audit checkpoint {second.pk} fails: ")
    if signature == "copy":
        assert (
            "its signature does not verify: the checkpoint was changed after it was signed"
            in report
        )
    else:
        assert "is not signed, and a signed one precedes it" in report


def test_rewritten_events_under_untouched_checkpoints_are_found_at_the_checkpoint(trail):
    chain, (_, second, _) = trail
    rewrite_event(chain, 5, {"i": "forged"})
    report = verify_fails()
    assert report.startswith(f"audit chain broken: chain={chain} seq=6 (checkpoint {second.pk})")
    assert "rewritten after seq 3" in report


@pytest.mark.parametrize("signer", ["pretending to be the real key", "another key"])
def test_a_forged_signature_fails(trail, signer):
    chain, (_, second, _) = trail
    rehashed = rewrite_event(chain, 5, {"i": "forged"})
    recompute_checkpoints(chain, rehashed, signature="sign", key=OTHER_KEY)
    if signer == "another key":
        with triggers_off():
            AuditCheckpoint.objects.filter(pk__gte=second.pk).update(
                key_id=sign.key_id(OTHER_KEY.public_key())
            )
    report = verify_fails()
    assert report.startswith(f"audit checkpoint {second.pk} fails: ")
    if signer == "another key":
        assert "no public key with that id was given" in report
    else:
        assert "its signature does not verify" in report


def test_a_removed_checkpoint_breaks_the_checkpoints_chain(trail):
    _, (_, second, third) = trail
    with triggers_off():
        AuditCheckpoint.objects.filter(pk=second.pk).delete()
    report = verify_fails()
    assert report.startswith(f"audit checkpoint {third.pk} fails: does not link to the checkpoint")


def test_unsigned_checkpoints_are_counted_and_fail_when_signatures_are_required(fraud, settings):
    key = settings.AUDIT_CHECKPOINT_KEY
    settings.AUDIT_CHECKPOINT_KEY = settings.EVIDENCE_SIGNING_KEY = ""
    write_checkpoint()  # as before checkpoints were signed
    write_checkpoint()
    settings.AUDIT_CHECKPOINT_KEY = key
    write_checkpoint()

    out, err = verify()
    assert "OK: 3 checkpoints chained, 1 signed" in out
    assert err.startswith("WARNING: 2 checkpoints are unsigned")
    first = AuditCheckpoint.objects.order_by("id").first()
    assert verify_fails("--require-signatures").startswith(
        f"audit checkpoint {first.pk} fails: is not signed, and signatures are required"
    )


def test_verify_audit_refuses_a_public_key_that_is_not_one(trail, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    assert "no public key to verify checkpoints with" in verify_fails("--public-key", str(bad))


# --- the sink ---------------------------------------------------------------------------------


@pytest.fixture
def sink(settings, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "checkpoints.jsonl"
    settings.AUDIT_CHECKPOINT_SINK = str(path)
    return path


def test_each_checkpoint_is_published_as_one_line(sink, trail):
    _, checkpoints = trail
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert lines == [record(AuditCheckpoint.objects.get(pk=c.pk)) for c in checkpoints]
    out, _ = verify("--sink", str(sink))
    assert "3 match the sink" in out


def test_a_checkpoint_that_cannot_be_published_is_not_written(fraud, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_SINK = str(tmp_path / "no such folder" / "checkpoints.jsonl")
    with pytest.raises(FileNotFoundError):
        write_checkpoint()
    assert not AuditCheckpoint.objects.exists()


def test_a_removed_last_checkpoint_is_found_only_by_the_sink(sink, trail):
    _, (_, _, third) = trail
    with triggers_off():
        AuditCheckpoint.objects.filter(pk=third.pk).delete()
    verify()  # the database alone cannot tell
    report = verify_fails("--sink", str(sink))
    assert report.startswith(f"audit checkpoint {third.pk} fails: is in the sink but no longer")


def test_a_rewrite_resigned_with_the_stolen_key_is_found_by_the_sink(sink, trail):
    """An app server's key signs whatever it is given: the published lines still stand."""
    chain, (_, second, _) = trail
    rehashed = rewrite_event(chain, 5, {"i": "forged"})
    recompute_checkpoints(chain, rehashed, signature="sign", key=suite_key())
    verify()  # signatures and chains agree: the database alone cannot tell
    report = verify_fails("--sink", str(sink))
    assert report.startswith(f"audit chain broken: chain={chain} seq=6 (checkpoint {second.pk})")
    assert f"checkpoint {second.pk} was published with head [6, " in report


def test_a_checkpoint_missing_from_the_sink_fails(sink, trail):
    _, (_, second, _) = trail
    lines = sink.read_text().splitlines(keepends=True)
    sink.write_text(lines[0] + lines[2])
    report = verify_fails("--sink", str(sink))
    assert report.startswith(f"audit checkpoint {second.pk} fails: is in the database but not")


def test_checkpoints_older_than_the_sink_are_counted_not_compared(fraud, settings, tmp_path):
    write_checkpoint()
    path = tmp_path / "later.jsonl"
    settings.AUDIT_CHECKPOINT_SINK = str(path)
    write_checkpoint()
    out, _ = verify("--sink", str(path))
    assert "1 match the sink (1 older than its first line)" in out


def test_a_sink_line_that_is_not_a_checkpoint_fails(sink, trail):
    with sink.open("a") as handle:
        handle.write("garbage\n")
    assert "line 4 of the sink is not a checkpoint record" in verify_fails("--sink", str(sink))


def test_a_verify_against_a_missing_sink_says_so(trail, tmp_path):
    assert "cannot read the sink" in verify_fails("--sink", str(tmp_path / "none.jsonl"))


def test_chain_checks_alone_still_pass_a_trail_with_checkpoints(trail):
    chain, _ = trail
    assert verify_all([chain]).ok
    assert AuditEvent.objects.filter(chain=chain).count() == 8


def test_verifying_one_system_checks_the_checkpoints_too(trail, fraud):
    chain, (_, second, _) = trail
    out, _ = verify("--system", fraud.slug)
    assert "3 checkpoints chained, 3 signed" in out

    rewrite_event(chain, 5, {"i": "forged"})
    report = verify_fails("--system", fraud.slug)
    assert report.startswith(f"audit chain broken: chain={chain} seq=6 (checkpoint {second.pk})")


def test_a_rewritten_checkpoint_fails_whichever_system_is_verified(trail, other_system):
    chain, (_, second, _) = trail
    recompute_checkpoints(chain, rewrite_event(chain, 5, {"i": "forged"}))
    # Its signature covers every chain's head: forged for one system is forged for all.
    assert verify_fails("--system", other_system.slug).startswith(
        f"audit checkpoint {second.pk} fails: "
    )

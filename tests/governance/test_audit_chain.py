"""The audit chain: append-only in the database, unbroken under concurrency, tamper-evident."""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import UTC

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from governance.audit import record_event
from governance.audit.chain import GENESIS_HASH, chain_name, seal_pending
from governance.audit.checkpoint import write_checkpoint
from governance.audit.context import current_credential
from governance.audit.hashing import HASHED_FIELDS, canonical_json
from governance.audit.verify_chain import verify_all
from governance.models import AuditChainHead, AuditEvent


def _append(system, actor, n: int, action: str = "test.event") -> None:
    for i in range(n):
        with transaction.atomic():
            record_event(actor=actor, action=action, system=system, after={"i": i, "note": "é ✓"})
    # Inside a test's own transaction nothing commits, so on_commit sealing never fires.
    seal_pending(chain_name(system.pk))


@pytest.mark.django_db
def test_it_chains_each_event_to_the_one_before(fraud, registrar):
    _append(fraud, registrar, 3)

    events = list(AuditEvent.objects.filter(chain=chain_name(fraud.pk)).order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4]  # system.created, then three
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get(chain=chain_name(fraud.pk))
    assert (head.seq, head.head_hash) == (4, events[-1].hash)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_record_outside_a_transaction(fraud, registrar):
    with pytest.raises(RuntimeError):
        record_event(actor=registrar, action="test.event", system=fraud)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE governance_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM governance_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete(fraud, statement):
    event = AuditEvent.objects.filter(system=fraud).first()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        connection.cursor() as cursor,
        transaction.atomic(),
    ):
        cursor.execute(statement, [event.pk])
    event.refresh_from_db()
    assert event.action == "system.created"


@pytest.mark.django_db
def test_the_orm_cannot_delete_audit_rows_either(fraud):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(system=fraud).delete()
    assert AuditEvent.objects.filter(system=fraud).exists()


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_keep_one_unbroken_chain(fraud, registrar):
    writers, per_writer = 8, 25
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            _append(fraud, registrar, per_writer, action="test.concurrent")
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    chain = chain_name(fraud.pk)
    events = AuditEvent.objects.filter(chain=chain).order_by("seq")
    seqs = list(events.values_list("seq", flat=True))
    assert seqs == list(range(1, writers * per_writer + 2))
    result = verify_all([chain])
    assert result.ok, result.breaks
    assert result.events == writers * per_writer + 1


def _tamper(sql: str, params: list) -> None:
    """What an attacker with table-owner rights would do: switch the trigger off, edit, on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER refuses pending deferred checks
        cursor.execute("ALTER TABLE governance_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE governance_auditevent ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_verify_audit_reports_ok_with_count_and_head(fraud, registrar, capsys):
    _append(fraud, registrar, 4)

    call_command("verify_audit")

    out = capsys.readouterr().out
    result = verify_all()
    assert f"OK: {result.events} events" in out
    assert result.head_hash in out


@pytest.mark.django_db
def test_verify_audit_finds_an_edited_row_at_its_exact_sequence_number(fraud, registrar, capsys):
    _append(fraud, registrar, 9)
    chain = chain_name(fraud.pk)
    _tamper(
        "UPDATE governance_auditevent SET after = '{\"i\": 999}' WHERE chain = %s AND seq = 6",
        [chain],
    )

    with pytest.raises(CommandError, match=f"chain={chain} seq=6"):
        call_command("verify_audit")
    assert "content does not match its hash" in capsys.readouterr().err


@pytest.mark.django_db
@pytest.mark.parametrize("credential", ["API token fsk_other… not-me", ""])
def test_the_credential_an_event_was_sealed_with_cannot_be_changed(fraud, registrar, credential):
    via = "API token fsk_ab12cd… release-bot"
    token = current_credential.set(via)
    try:
        _append(fraud, registrar, 2)
    finally:
        current_credential.reset(token)
    _append(fraud, registrar, 1)  # a page's event after them: no credential
    chain = chain_name(fraud.pk)
    sealed = dict(AuditEvent.objects.filter(chain=chain).values_list("seq", "credential"))
    assert sealed == {1: "", 2: via, 3: via, 4: ""}
    assert verify_all([chain]).ok

    _tamper(
        "UPDATE governance_auditevent SET credential = %s WHERE chain = %s AND seq = 3",
        [credential, chain],
    )
    result = verify_all([chain])
    assert [(b.seq, b.reason) for b in result.breaks] == [(3, "content does not match its hash")]


@pytest.mark.django_db
def test_an_event_without_a_credential_hashes_as_before_there_were_credentials(fraud, registrar):
    """Chains sealed before the credential was recorded still verify: the hash takes it only
    when it is set."""
    _append(fraud, registrar, 1)
    event = AuditEvent.objects.filter(chain=chain_name(fraud.pk)).values().last()
    body = {name: event[name] for name in HASHED_FIELDS}  # the fields hashed from the start
    body["occurred_at"] = event["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    assert event["credential"] == ""
    assert hashlib.sha256(canonical_json(body).encode()).hexdigest() == event["hash"]


@pytest.mark.django_db
def test_verify_audit_finds_a_deleted_row(fraud, registrar):
    _append(fraud, registrar, 5)
    chain = chain_name(fraud.pk)
    _tamper("DELETE FROM governance_auditevent WHERE chain = %s AND seq = 3", [chain])

    with pytest.raises(CommandError, match=f"chain={chain} seq=3"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_finds_a_rehashed_row_at_the_next_link(fraud, registrar):
    """Rewriting a row and its own hash still breaks the link the next event holds."""
    _append(fraud, registrar, 5)
    chain = chain_name(fraud.pk)
    _tamper(
        "UPDATE governance_auditevent SET hash = repeat('a', 64) WHERE chain = %s AND seq = 2",
        [chain],
    )
    result = verify_all([chain])
    assert [(b.seq, b.reason) for b in result.breaks] == [(2, "content does not match its hash")]


@pytest.mark.django_db
def test_a_truncated_tail_is_found_through_the_checkpoint(fraud, registrar):
    _append(fraud, registrar, 4)
    write_checkpoint()
    chain = chain_name(fraud.pk)
    # Remove the last two events and rewind the head, so the chain itself looks whole.
    _tamper("DELETE FROM governance_auditevent WHERE chain = %s AND seq > 3", [chain])
    last = AuditEvent.objects.get(chain=chain, seq=3)
    AuditChainHead.objects.filter(chain=chain).update(seq=3, head_hash=last.hash)

    result = verify_all()
    assert not result.ok
    assert result.breaks[0].chain == chain
    assert result.breaks[0].seq == 5


@pytest.mark.django_db
def test_systems_write_to_separate_chains(fraud, other_system, registrar):
    _append(fraud, registrar, 2)
    _append(other_system, registrar, 1)
    assert AuditEvent.objects.filter(chain=chain_name(fraud.pk)).count() == 3
    assert AuditEvent.objects.filter(chain=chain_name(other_system.pk)).count() == 2
    assert verify_all().ok


@pytest.mark.django_db(transaction=True)
def test_beat_task_writes_a_checkpoint_through_a_real_worker(celery_worker, fraud):
    """The checkpoint seals what is pending first, then records every head."""
    import time

    from django.conf import settings

    from governance.audit.verify_checkpoints import signature_valid
    from governance.evidence import sign
    from governance.models import AuditCheckpoint
    from governance.tasks import checkpoint_audit_chains

    checkpoint_audit_chains.delay()
    deadline = time.monotonic() + 20
    while not AuditCheckpoint.objects.exists():
        assert time.monotonic() < deadline, "the worker did not write the checkpoint"
        time.sleep(0.1)
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.heads[chain_name(fraud.pk)][0] == 1
    # Signed in the worker with the key of its environment (the suite's, tests/services.py).
    public = sign.load_private_key(settings.AUDIT_CHECKPOINT_KEY).public_key()
    assert checkpoint.key_id == sign.key_id(public)
    assert signature_valid(checkpoint, public)


@pytest.mark.django_db(transaction=True)
def test_the_periodic_sealer_chains_committed_events(celery_worker, registrar):
    import time

    from governance import services
    from governance.tasks import seal_audit_chains

    system = services.create_system(
        actor=registrar, name="Sealed", intended_purpose="x", risk_category="minimal"
    )
    event = AuditEvent.objects.get(system=system)
    assert event.seq is None and event.hash is None  # written, not sealed yet

    seal_audit_chains.delay()  # what beat sends every AUDIT_SEAL_SECONDS
    deadline = time.monotonic() + 20
    while event.seq is None:
        assert time.monotonic() < deadline, "the worker never sealed the event"
        time.sleep(0.1)
        event.refresh_from_db()
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    assert len(event.hash) == 64


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        # sealing and rewriting the content in one go
        "UPDATE governance_auditevent SET seq = 1, prev_hash = repeat('0', 64), "
        "hash = repeat('1', 64), actor_name = 'someone else' WHERE id = %s",
        # sealing only half
        "UPDATE governance_auditevent SET hash = repeat('1', 64) WHERE id = %s",
    ],
)
def test_sealing_cannot_touch_the_content(fraud, statement):
    event = AuditEvent.objects.get(system=fraud)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        connection.cursor() as cursor,
        transaction.atomic(),
    ):
        cursor.execute(statement, [event.pk])


@pytest.mark.django_db
def test_a_sealed_event_cannot_be_sealed_again(fraud, registrar):
    _append(fraud, registrar, 1)
    event = AuditEvent.objects.filter(system=fraud).order_by("seq").first()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        connection.cursor() as cursor,
        transaction.atomic(),
    ):
        cursor.execute(
            "UPDATE governance_auditevent SET seq = 99, hash = repeat('2', 64) WHERE id = %s",
            [event.pk],
        )

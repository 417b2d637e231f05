"""The database refuses to rewrite the audit tables, in words, on each of them: no UPDATE,
DELETE or TRUNCATE (the sealing of an event aside: tests/governance/test_audit_chain.py);
nor TRUNCATE of the other append-only tables (the timeline, the forensic records, the
releases, whose rows their own triggers guard)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from governance.audit.checkpoint import write_checkpoint

pytestmark = pytest.mark.django_db

APPEND_ONLY = "audit records are append-only"


def _refused(sql: str, match: str = APPEND_ONLY) -> None:
    # The suite's sessions allow TRUNCATE for Django's flush (tests/conftest.py); this
    # transaction speaks as the application does.
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL failsafe.audit_truncate = ''")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits for the test's FKs
        cursor.execute(sql)


@pytest.fixture
def checkpointed(fraud, owner):  # type: ignore[no-untyped-def]
    """An audit trail with a checkpoint row."""
    write_checkpoint()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE governance_auditcheckpoint SET created_at = created_at",
        "DELETE FROM governance_auditcheckpoint",
    ],
    ids=["update", "delete"],
)
def test_the_checkpoint_table_refuses_a_rewrite_with_the_append_only_message(checkpointed, sql):
    _refused(sql, match=rf"{APPEND_ONLY}: (UPDATE|DELETE) on governance_auditcheckpoint refused")


@pytest.mark.parametrize(
    "table",
    [
        "governance_auditevent",
        "governance_auditcheckpoint",
        "incidents_timelineentry",
        "releases_forensicrecord",
        "releases_release",
    ],
)
def test_truncate_of_an_append_only_table_is_refused(checkpointed, table):
    _refused(f"TRUNCATE {table} CASCADE", match=rf"{APPEND_ONLY}: TRUNCATE on {table} refused")


def test_an_audit_event_still_refuses_update_and_delete(fraud, owner):
    _refused("UPDATE governance_auditevent SET action = 'rewritten'")
    _refused("DELETE FROM governance_auditevent")

"""The migration operation that refuses TRUNCATE on an append-only table.

Row triggers refuse UPDATE and DELETE, but TRUNCATE fires none: a statement trigger refuses
it with governance's function (governance/migrations/0007), which names the table and lets
only a session that said `SET failsafe.audit_truncate = 'allowed'` through (the test suite's
flush; nothing in Failsafe says it). Migrations import this: keep its output stable.
"""

from __future__ import annotations

from django.db import migrations


def refuse_truncate(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"""
        CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_audit_rewrite();
        """,
        f"DROP TRIGGER {table}_no_truncate ON {table};",
    )


def refuse_rewrite(table: str) -> list[migrations.RunSQL]:
    """UPDATE and DELETE of a row refused, and TRUNCATE: a record that, once written, stands."""
    return [
        migrations.RunSQL(
            f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION governance_refuse_audit_rewrite();
            """,
            f"DROP TRIGGER {table}_append_only ON {table};",
        ),
        refuse_truncate(table),
    ]

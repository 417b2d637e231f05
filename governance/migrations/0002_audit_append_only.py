"""The database itself refuses to rewrite history: no UPDATE or DELETE of audit rows."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_audit_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

TRIGGER = """
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION governance_refuse_audit_rewrite();
"""

TABLES = ["governance_auditevent", "governance_auditcheckpoint"]


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION governance_refuse_audit_rewrite();"),
        *[
            migrations.RunSQL(
                TRIGGER.format(table=table), f"DROP TRIGGER {table}_append_only ON {table};"
            )
            for table in TABLES
        ],
    ]

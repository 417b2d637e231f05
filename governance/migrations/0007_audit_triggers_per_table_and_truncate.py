"""The audit tables' triggers say what they refuse, on each table, and TRUNCATE is refused too.

0004 taught the one trigger function the sealing UPDATE of an audit event, in a condition that
reads OLD.seq: PL/pgSQL evaluates every field a condition names, so on the checkpoint table
(which has no `seq`) any UPDATE or DELETE failed with `record "old" has no field "seq"`
instead of the append-only message. Now each table has a function of its own: the events'
allows the sealing and nothing else, the checkpoints' nothing at all.

TRUNCATE fires no row trigger, so it emptied both tables silently. A statement trigger now
refuses it, unless the session has said `SET failsafe.audit_truncate = 'allowed'`: nothing in
Failsafe does; the test suite does, for Django's flush between transactional tests (which
truncates every table). Like the row triggers, this guards against mistakes and code, not
against a database superuser, who may drop triggers.
"""

from django.db import migrations

EVENT_FUNCTION = """
CREATE FUNCTION governance_seal_or_refuse_audit_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Sealing is the one UPDATE an audit event ever takes: an unsealed row gets its sequence
    -- number and hashes, and nothing else of it changes.
    IF TG_OP = 'UPDATE'
       AND OLD.hash IS NULL AND OLD.seq IS NULL
       AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
           = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

# For row triggers (the checkpoints) and the statement triggers on TRUNCATE alike.
STRICT_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_audit_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('failsafe.audit_truncate', true) IS NOT DISTINCT FROM 'allowed' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

# 0004's, for going back.
SEALING_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_audit_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'governance_auditevent'
       AND OLD.hash IS NULL AND OLD.seq IS NULL
       AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
           = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

ROW_TRIGGER = """
DROP TRIGGER governance_auditevent_append_only ON governance_auditevent;
CREATE TRIGGER governance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""

TRUNCATE_TRIGGER = """
CREATE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_audit_rewrite();
"""

TABLES = ["governance_auditevent", "governance_auditcheckpoint"]


class Migration(migrations.Migration):
    dependencies = [("governance", "0006_audit_event_credential")]

    operations = [
        migrations.RunSQL(EVENT_FUNCTION, "DROP FUNCTION governance_seal_or_refuse_audit_event();"),
        migrations.RunSQL(
            ROW_TRIGGER.format(function="governance_seal_or_refuse_audit_event"),
            ROW_TRIGGER.format(function="governance_refuse_audit_rewrite"),
        ),
        migrations.RunSQL(STRICT_FUNCTION, SEALING_FUNCTION),
        *[
            migrations.RunSQL(
                TRUNCATE_TRIGGER.format(table=table),
                f"DROP TRIGGER {table}_no_truncate ON {table};",
            )
            for table in TABLES
        ],
    ]

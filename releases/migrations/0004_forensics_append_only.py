"""A forensic record is evidence: once captured, nothing changes or removes it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("releases", "0003_rollback_requests")]

    operations = [
        migrations.RunSQL(
            """
            CREATE OR REPLACE FUNCTION releases_refuse_forensics_rewrite() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'forensic records are append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$;
            CREATE TRIGGER releases_forensicrecord_append_only
                BEFORE UPDATE OR DELETE ON releases_forensicrecord
                FOR EACH ROW EXECUTE FUNCTION releases_refuse_forensics_rewrite();
            """,
            """
            DROP TRIGGER releases_forensicrecord_append_only ON releases_forensicrecord;
            DROP FUNCTION releases_refuse_forensics_rewrite();
            """,
        ),
    ]

"""Nothing on an incident's timeline is edited or deleted: a correction is a new entry."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("governance", "0004_unsealed_audit_events"),
    ]

    operations = [
        migrations.RunSQL(
            """
            CREATE OR REPLACE FUNCTION incidents_refuse_timeline_rewrite() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the incident timeline is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$;
            CREATE TRIGGER incidents_timelineentry_append_only
                BEFORE UPDATE OR DELETE ON incidents_timelineentry
                FOR EACH ROW EXECUTE FUNCTION incidents_refuse_timeline_rewrite();
            """,
            """
            DROP TRIGGER incidents_timelineentry_append_only ON incidents_timelineentry;
            DROP FUNCTION incidents_refuse_timeline_rewrite();
            """,
        ),
    ]

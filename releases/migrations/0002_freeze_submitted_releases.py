"""The database refuses to change a release's stack or model card once it was submitted."""

from django.db import migrations

FROZEN_COLUMNS = [
    "system_id", "version", "title", "author_id", "submitted_at", "content_digest",
    "what_changed", "why", "data_used", "channels_tested", "expected_benefits", "known_risks",
    "rollback_trigger", "change_categories",
]  # fmt: skip

RELEASE_FUNCTION = """
CREATE OR REPLACE FUNCTION releases_refuse_frozen_release_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.submitted_at IS NULL THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'DELETE' OR {changed} THEN
        RAISE EXCEPTION 'release % was submitted for review and is frozen', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
""".format(changed=" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS))

COMPONENT_FUNCTION = """
CREATE OR REPLACE FUNCTION releases_refuse_frozen_component_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM releases_release
        WHERE submitted_at IS NOT NULL
          AND id IN (CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.release_id END,
                     CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.release_id END)
    ) THEN
        RAISE EXCEPTION 'the stack of a submitted release is frozen'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN COALESCE(NEW, OLD);
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]

    operations = [
        migrations.RunSQL(
            RELEASE_FUNCTION
            + """
            CREATE TRIGGER releases_release_frozen BEFORE UPDATE OR DELETE ON releases_release
                FOR EACH ROW EXECUTE FUNCTION releases_refuse_frozen_release_change();
            """,
            """
            DROP TRIGGER releases_release_frozen ON releases_release;
            DROP FUNCTION releases_refuse_frozen_release_change();
            """,
        ),
        migrations.RunSQL(
            COMPONENT_FUNCTION
            + """
            CREATE TRIGGER releases_component_frozen
                BEFORE INSERT OR UPDATE OR DELETE ON releases_releasecomponent
                FOR EACH ROW EXECUTE FUNCTION releases_refuse_frozen_component_change();
            """,
            """
            DROP TRIGGER releases_component_frozen ON releases_releasecomponent;
            DROP FUNCTION releases_refuse_frozen_component_change();
            """,
        ),
    ]

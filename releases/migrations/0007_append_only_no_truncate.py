"""TRUNCATE of the forensic records, and of the releases (submitted ones are frozen), is
refused, as UPDATE and DELETE of their rows are (0002, 0004)."""

from django.db import migrations

from governance.audit.append_only import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0006_text_caps_and_uri_schemes"),
        ("governance", "0007_audit_triggers_per_table_and_truncate"),
    ]

    operations = [refuse_truncate("releases_forensicrecord"), refuse_truncate("releases_release")]

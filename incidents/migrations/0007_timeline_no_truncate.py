"""TRUNCATE of the incident timeline is refused, as UPDATE and DELETE of its rows are (0002)."""

from django.db import migrations

from governance.audit.append_only import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_alert_groups_and_storms"),
        ("governance", "0007_audit_triggers_per_table_and_truncate"),
    ]

    operations = [refuse_truncate("incidents_timelineentry")]

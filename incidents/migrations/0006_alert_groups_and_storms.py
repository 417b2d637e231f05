"""Alerts of one Alertmanager group join one incident (`Incident.group_key`), and an alert
token's rate of new incidents is bounded: the incidents it declared (`alert_token`), its
storm incident (`is_storm`) and its count of the current minute (on the token)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_text_caps"),
    ]

    operations = [
        migrations.AddField(
            model_name="alerttoken",
            name="window_declared",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="alerttoken",
            name="window_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="alert_token",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="incidents",
                to="incidents.alerttoken",
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="group_key",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="incident",
            name="is_storm",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("group_key", ""), _negated=True),
                fields=["system", "group_key"],
                name="incident_alert_group",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("is_storm", True)),
                fields=["alert_token"],
                name="incident_alert_storm",
            ),
        ),
    ]

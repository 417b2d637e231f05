"""Audit checkpoints carry an Ed25519 signature and the id of the key that made it.

Checkpoints already written keep empty ones: `verify_audit` counts them as unsigned. Adding
the columns writes no row, so the append-only trigger has nothing to refuse.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0012_slack_channel"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditcheckpoint",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="signature",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
    ]

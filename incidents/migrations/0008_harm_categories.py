"""An incident's harms are a set (Art. 3(49)): a death that also disrupted critical
infrastructure is both, and the shortest Art. 73 deadline of the two binds. Each incident
keeps the one harm it had."""

import django.contrib.postgres.fields
from django.db import migrations, models

ONE_TO_A_SET = """
UPDATE incidents_incident SET harm_categories = ARRAY[harm_category] WHERE harm_category <> '';
"""
# Back: the first harm of each set.
A_SET_TO_ONE = """
UPDATE incidents_incident SET harm_category = harm_categories[1]
WHERE cardinality(harm_categories) > 0;
"""


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_timeline_no_truncate")]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="harm_categories",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("death_or_health", "Death of a person, or serious harm to a person's health"),
                        ("critical_infrastructure", "Serious and irreversible disruption of the management or operation of critical infrastructure"),
                        ("fundamental_rights", "Infringement of obligations under Union law intended to protect fundamental rights"),
                        ("property_or_environment", "Serious harm to property or the environment"),
                    ],
                    max_length=32,
                ),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.RunSQL(ONE_TO_A_SET, A_SET_TO_ONE),
        migrations.RemoveField(model_name="incident", name="harm_category"),
    ]

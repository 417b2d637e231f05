"""Art. 73 records: when the causal link was established, and each authority notified."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0008_harm_categories'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='causal_link_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='AuthorityNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('complete', models.BooleanField()),
                ('member_state', models.CharField(choices=[('AT', 'Austria (AT)'), ('BE', 'Belgium (BE)'), ('BG', 'Bulgaria (BG)'), ('HR', 'Croatia (HR)'), ('CY', 'Cyprus (CY)'), ('CZ', 'Czechia (CZ)'), ('DK', 'Denmark (DK)'), ('EE', 'Estonia (EE)'), ('FI', 'Finland (FI)'), ('FR', 'France (FR)'), ('DE', 'Germany (DE)'), ('GR', 'Greece (GR)'), ('HU', 'Hungary (HU)'), ('IE', 'Ireland (IE)'), ('IT', 'Italy (IT)'), ('LV', 'Latvia (LV)'), ('LT', 'Lithuania (LT)'), ('LU', 'Luxembourg (LU)'), ('MT', 'Malta (MT)'), ('NL', 'Netherlands (NL)'), ('PL', 'Poland (PL)'), ('PT', 'Portugal (PT)'), ('RO', 'Romania (RO)'), ('SK', 'Slovakia (SK)'), ('SI', 'Slovenia (SI)'), ('ES', 'Spain (ES)'), ('SE', 'Sweden (SE)')], max_length=2)),
                ('authority', models.CharField(max_length=200)),
                ('reference', models.CharField(blank=True, max_length=200)),
                ('sent_at', models.DateTimeField()),
                ('recorded_at', models.DateTimeField(auto_now_add=True)),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='authority_notifications', to='incidents.incident')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['sent_at', 'id'],
            },
        ),
    ]

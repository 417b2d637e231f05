"""Registry intake: webhook secrets, followed MLflow models, deliveries and imported
versions; a release's author and a gate check's recorder may be the intake (no person);
and each release's stack digest (releases.content.stack_digest), computed here for the
releases registered before it, so a CI job that posts an existing stack gets it back."""

import hashlib
import json

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
import encrypted_fields.fields
import governance.validators
from django.conf import settings
from django.db import migrations, models


def digest_existing_stacks(apps, schema_editor):
    # As releases.content.stack_digest computes it (canonical JSON: sorted keys, no spaces).
    Release = apps.get_model("releases", "Release")
    for release in Release.objects.prefetch_related("components").iterator(chunk_size=500):
        stack = {
            c.kind: {"version": c.version, "uri": c.uri, "digest": c.digest}
            for c in release.components.all()
        }
        canonical = json.dumps(stack, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        Release.objects.filter(pk=release.pk).update(stack_digest=digest)


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0009_operator_role_and_reporting_regime'),
        ('releases', '0007_append_only_no_truncate'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ModelFollow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model_name', models.CharField(max_length=200)),
                ('tracking_uri', models.CharField(help_text='The MLflow tracking server the runs are read from: https://…', max_length=500, validators=[governance.validators.UriValidator(('http', 'https'))])),
                ('secrets', encrypted_fields.fields.EncryptedJSONField(blank=True, default=dict)),
                ('metric_criteria', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['model_name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='RegistryVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model_name', models.CharField(max_length=200)),
                ('version', models.CharField(max_length=20)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('imported', 'Imported'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('source', models.CharField(blank=True, max_length=500)),
                ('run_id', models.CharField(blank=True, max_length=64)),
                ('run_url', models.CharField(blank=True, max_length=500)),
                ('digest_source', models.CharField(blank=True, max_length=40)),
                ('flavors', models.JSONField(blank=True, default=list)),
                ('metrics', models.JSONField(blank=True, default=dict)),
                ('unmapped_metrics', models.JSONField(blank=True, default=dict)),
                ('error', models.TextField(blank=True, max_length=4000)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('delivery_id', models.CharField(max_length=64)),
                ('event', models.CharField(max_length=40)),
                ('model_name', models.CharField(max_length=200)),
                ('model_version', models.CharField(blank=True, max_length=20)),
                ('payload', models.JSONField(default=dict)),
                ('status', models.CharField(choices=[('importing', 'Import scheduled'), ('recorded', 'Recorded'), ('replayed', 'Already imported')], max_length=12)),
                ('received_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-received_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookSecret',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('prefix', models.CharField(max_length=12)),
                ('sealed', encrypted_fields.fields.EncryptedJSONField(default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='release',
            name='stack_digest',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name='gatecheck',
            name='recorded_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='release',
            name='author',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='authored_releases', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='release',
            index=models.Index(fields=['system', 'stack_digest'], name='release_system_stack'),
        ),
        migrations.AddField(
            model_name='modelfollow',
            name='created_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='modelfollow',
            name='system',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='model_follows', to='governance.aisystem'),
        ),
        migrations.AddField(
            model_name='registryversion',
            name='release',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='registry_version', to='releases.release'),
        ),
        migrations.AddField(
            model_name='registryversion',
            name='system',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='governance.aisystem'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='system',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='governance.aisystem'),
        ),
        migrations.AddField(
            model_name='webhooksecret',
            name='created_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='webhooksecret',
            name='system',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_secrets', to='governance.aisystem'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='secret',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='releases.webhooksecret'),
        ),
        migrations.AddConstraint(
            model_name='modelfollow',
            constraint=models.UniqueConstraint(fields=('system', 'model_name'), name='follow_unique_model'),
        ),
        migrations.AddConstraint(
            model_name='registryversion',
            constraint=models.UniqueConstraint(fields=('system', 'model_name', 'version'), name='registry_version_once'),
        ),
        migrations.AddConstraint(
            model_name='registryversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'imported'), _negated=True), ('release__isnull', False), _connector='OR'), name='registry_version_imported_has_release'),
        ),
        migrations.AddConstraint(
            model_name='registryversion',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('error'), 4000), name='registryversion_error_length', violation_error_message='Ensure this value has at most 4000 characters.'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.UniqueConstraint(fields=('system', 'delivery_id'), name='delivery_unique_id'),
        ),
        migrations.RunPython(digest_existing_stacks, migrations.RunPython.noop),
    ]

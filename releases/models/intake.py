"""Registry intake: what brings releases in from MLflow's model registry.

A system's owners create webhook secrets (MLflow signs its deliveries with one) and name the
registered models the system follows; each delivery that concerns a followed model is
recorded once (its delivery id), and each model version is imported once, as a draft release.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from encrypted_fields.fields import EncryptedJSONField

from governance.limits import ERROR, NAME, length_checks
from governance.models import AISystem
from governance.validators import validate_web_url
from releases.models.release import Release

# What MLflow allows in a registered model's name is long; what Failsafe keeps is a line.
MODEL_NAME = NAME
MLFLOW_VERSION = 20  # MLflow numbers versions 1, 2, 3 …
DELIVERY_ID = 64  # MLflow sends a UUID


class WebhookSecret(models.Model):
    """The shared secret MLflow signs a system's webhook deliveries with (HMAC-SHA256).

    Unlike a bearer token it must be recoverable, to compute the signature again: it is
    kept encrypted (as environments' backend secrets are), shown once, never exported.
    """

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="webhook_secrets")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)  # tells secrets apart in lists, reveals nothing
    sealed = EncryptedJSONField(default=dict)  # {"secret": "fsw_…"}; never shown again
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def secret(self) -> str:
        value = self.sealed.get("secret") if isinstance(self.sealed, dict) else None
        return value if isinstance(value, str) else ""


class ModelFollow(models.Model):
    """A registered model in MLflow whose new versions become the system's draft releases.

    `metric_criteria` maps a metric the training run logs to the gate criterion it is
    evidence for: {"auc": {"criterion": "benchmark", "comparison": "gte", "target": "0.91"}}.
    Metrics it does not map are kept as notes on the release.
    """

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="model_follows")
    model_name = models.CharField(max_length=MODEL_NAME)
    tracking_uri = models.CharField(
        max_length=500,
        validators=[validate_web_url],
        help_text="The MLflow tracking server the runs are read from: https://…",
    )
    secrets = EncryptedJSONField(default=dict, blank=True)  # {"token": "…"}: Bearer, optional
    metric_criteria = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "model_name"], name="follow_unique_model")
        ]

    def __str__(self) -> str:
        return f"{self.system.slug} follows {self.model_name}"

    @property
    def has_token(self) -> bool:
        return bool(isinstance(self.secrets, dict) and self.secrets.get("token"))


class DeliveryStatus(models.TextChoices):
    IMPORTING = "importing", "Import scheduled"
    RECORDED = "recorded", "Recorded"  # an event that imports nothing (an alias moved)
    REPLAYED = "replayed", "Already imported"


class WebhookDelivery(models.Model):
    """One signed delivery from MLflow about a followed model, kept once per delivery id:
    a replay of the same delivery finds this row and changes nothing."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="+")
    delivery_id = models.CharField(max_length=DELIVERY_ID)
    secret = models.ForeignKey(WebhookSecret, on_delete=models.PROTECT, related_name="+")
    event = models.CharField(max_length=40)  # "model_version.created"
    model_name = models.CharField(max_length=MODEL_NAME)
    model_version = models.CharField(max_length=MLFLOW_VERSION, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "delivery_id"], name="delivery_unique_id")
        ]

    def __str__(self) -> str:
        return f"MLflow {self.event} {self.model_name} {self.model_version}".strip()


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IMPORTED = "imported", "Imported"
    FAILED = "failed", "Failed"


class RegistryVersion(models.Model):
    """A model version of a followed model, imported once as a draft release: what MLflow
    said of it (source, run, metrics), and the metrics no gate criterion took."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="+")
    model_name = models.CharField(max_length=MODEL_NAME)
    version = models.CharField(max_length=MLFLOW_VERSION)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    release = models.OneToOneField(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="registry_version"
    )
    source = models.CharField(max_length=500, blank=True)
    run_id = models.CharField(max_length=64, blank=True)
    run_url = models.CharField(max_length=500, blank=True)
    digest_source = models.CharField(max_length=40, blank=True)  # "MLmodel file"
    flavors = models.JSONField(default=list, blank=True)  # the MLmodel's flavors, sorted
    metrics = models.JSONField(default=dict, blank=True)  # every metric of the run
    unmapped_metrics = models.JSONField(default=dict, blank=True)  # the notes
    error = models.TextField(max_length=ERROR, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "model_name", "version"], name="registry_version_once"
            ),
            models.CheckConstraint(
                condition=~Q(status=ImportStatus.IMPORTED) | Q(release__isnull=False),
                name="registry_version_imported_has_release",
            ),
            *length_checks("registryversion", {"error": ERROR}),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} version {self.version}"

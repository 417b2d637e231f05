"""Environments (their backend secrets write-only) and the live-at question."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.api import types as api_types
from governance.api.serializers import SlugRelatedField
from governance.limits import NOTE
from governance.validators import validate_web_url
from releases import queries
from releases.models import (
    BackendType,
    Environment,
)

Username = SlugRelatedField


class SystemSlugField(serializers.SlugField):
    """A system named by slug; whether it exists is for the view to say (404), not a 400."""

    def to_representation(self, value: Any) -> str:
        return value.slug


class EnvironmentSerializer(api_types.ModelSerializer):
    system = SystemSlugField(help_text="The AI system's slug (set on creation)")
    backend_type = serializers.ChoiceField(choices=BackendType.choices, default=BackendType.LOCAL)
    backend_secrets = serializers.DictField(
        child=serializers.CharField(),
        write_only=True,
        required=False,
        help_text="Write-only: stored encrypted, never returned",
    )
    backend_secrets_set = serializers.SerializerMethodField()
    prometheus_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, validators=[validate_web_url],
        help_text="The Prometheus the PromQL triggers and stage analyses ask (http or https)",
    )  # fmt: skip
    prometheus_token = serializers.CharField(
        max_length=4096, write_only=True, required=False, allow_blank=True,
        help_text="Write-only bearer token for Prometheus: stored encrypted, never returned; "
        "empty removes it",
    )  # fmt: skip
    prometheus_token_set = serializers.SerializerMethodField()
    live_release = serializers.SerializerMethodField(
        help_text="Version of the release live there now; null when nothing is"
    )

    class Meta:
        model = Environment
        fields = [
            "id",
            "system",
            "name",
            "slug",
            "is_production",
            "backend_type",
            "backend_config",
            "backend_secrets",
            "backend_secrets_set",
            "prometheus_url",
            "prometheus_token",
            "prometheus_token_set",
            "live_release",
        ]
        read_only_fields = ["id", "slug"]

    def get_backend_secrets_set(self, environment: Environment) -> list[str]:
        return sorted(environment.backend_secrets or {})

    def get_prometheus_token_set(self, environment: Environment) -> bool:
        return bool((environment.prometheus_secrets or {}).get("token"))

    def get_live_release(self, environment: Environment) -> str | None:
        # The list and the detail read it from their prefetch (`queries.with_live`).
        live = queries.live_release(environment)
        return live.version if live else None


class LiveAtSerializer(api_types.Serializer):
    at = serializers.DateTimeField(required=False, help_text="Defaults to now")


class AdoptDriftSerializer(api_types.Serializer):
    reason = serializers.CharField(
        max_length=NOTE, help_text="Why the release the backend reports may stay live"
    )

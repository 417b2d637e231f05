"""Rollout steps and the analyses they carry."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.api import types as api_types
from governance.api.serializers import SlugRelatedField
from governance.limits import NAME, NOTE, QUERY
from releases.analysis.condition import parse_condition
from releases.api.serializers.scoping import scope
from releases.models import (
    Environment,
    Release,
    RolloutStage,
    RolloutStep,
    StageAnalysis,
)

Username = SlugRelatedField


class StageAnalysisSerializer(api_types.ModelSerializer):
    """A stage's analysis (after Argo Rollouts' AnalysisTemplate) as written, and where it
    stands; its measurements are on the release page and in its `analysis.concluded` event."""

    query = serializers.CharField(
        max_length=QUERY, help_text="PromQL: one number (a scalar or one series)"
    )
    success_condition = serializers.CharField(
        max_length=NAME,
        help_text="“result” compared with numbers, joined by and / or: “result < 0.05”",
    )
    interval_seconds = serializers.IntegerField(min_value=1, max_value=3600, default=60)
    count = serializers.IntegerField(min_value=1, max_value=100, default=5)
    failure_limit = serializers.IntegerField(min_value=0, max_value=99, default=0)
    inconclusive_limit = serializers.IntegerField(min_value=0, max_value=99, default=0)

    class Meta:
        model = StageAnalysis
        fields = [
            "query", "success_condition", "interval_seconds", "count", "failure_limit",
            "inconclusive_limit", "status", "started_at", "concluded_at", "conclusion",
        ]  # fmt: skip
        read_only_fields = ["status", "started_at", "concluded_at", "conclusion"]

    def validate_success_condition(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        try:
            parse_condition(value)
        except ValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return value.strip()


class RolloutStepSerializer(api_types.ModelSerializer):
    environment: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="slug", queryset=Environment.objects.all()
    )
    stage = serializers.ChoiceField(choices=RolloutStage.choices)
    requested_by: serializers.SlugRelatedField = Username(slug_field="username", read_only=True)
    analysis = StageAnalysisSerializer(
        required=False, allow_null=True, default=None,
        help_text="Measure the stage with Prometheus once it is applied; null: no analysis",
    )  # fmt: skip
    skip_reason = serializers.CharField(
        max_length=NOTE, required=False, allow_blank=True, default="", write_only=True,
        help_text="Why the rollout passes over a stage or cuts a soak short (release "
        "managers only); without it the gate's stage order and soak hold",
    )  # fmt: skip

    class Meta:
        model = RolloutStep
        fields = [
            "id",
            "action",
            "environment",
            "stage",
            "traffic_percent",
            "analysis",
            "skip_reason",
            "reason",
            "waived",
            "status",
            "idempotency_key",
            "requested_by",
            "requested_at",
            "applied_at",
            "error",
        ]
        read_only_fields = [
            "id",
            "action",
            "reason",
            "waived",
            "status",
            "idempotency_key",
            "requested_by",
            "requested_at",
            "applied_at",
            "error",
        ]

    def __init__(self, *args: Any, release: Release | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if release is not None:
            scope(self, "environment", Environment.objects.filter(system=release.system_id))


class RolloutControlSerializer(serializers.Serializer):
    """Pause, resume or abort the release's rollout in an environment."""

    environment: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="slug", queryset=Environment.objects.all()
    )
    reason = serializers.CharField(
        max_length=NOTE, required=False, allow_blank=True, default="",
        help_text="Why (required to abort)",
    )  # fmt: skip

    def __init__(self, *args: Any, release: Release | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if release is not None:
            scope(self, "environment", Environment.objects.filter(system=release.system_id))

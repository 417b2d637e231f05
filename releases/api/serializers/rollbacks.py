"""Rollback plans with their triggers, rollback requests, and what a press or a decision sends."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from governance.api import types as api_types
from governance.api.serializers import SlugRelatedField
from governance.limits import NOTE, QUERY
from releases.api.serializers.scoping import scope
from releases.models import (
    Comparison,
    Environment,
    Release,
    RollbackMode,
    RollbackPlan,
    RollbackRequest,
    RollbackTrigger,
)

Username = SlugRelatedField


class TriggerSerializer(api_types.ModelSerializer):
    comparison = serializers.ChoiceField(choices=Comparison.choices[:4])
    metric = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default="",
        help_text="The metric an alert names; a PromQL trigger's name (default: its query)",
    )  # fmt: skip
    query = serializers.CharField(
        max_length=QUERY, required=False, allow_blank=True, default="", trim_whitespace=True,
        help_text="PromQL asked of the environment's Prometheus every 15 s; empty: the "
        "trigger speaks for alerts naming its metric",
    )  # fmt: skip
    window_minutes = serializers.IntegerField(
        min_value=1, max_value=24 * 60,
        help_text="How long the condition must hold (the `for` of a PromQL trigger)",
    )  # fmt: skip

    class Meta:
        model = RollbackTrigger
        fields = ["metric", "query", "comparison", "threshold", "window_minutes"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("metric") and not attrs.get("query"):
            raise serializers.ValidationError({"metric": "Name the metric, or give a query."})
        return attrs


class RollbackPlanSerializer(api_types.ModelSerializer):
    environment: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="slug", queryset=Environment.objects.all()
    )
    target_release: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="version",
        queryset=Release.objects.all(),
        required=False,
        allow_null=True,
        help_text="Defaults to the release live in the environment",
    )
    owners: serializers.SlugRelatedField = Username(
        slug_field="username", many=True, queryset=get_user_model().objects.filter(is_active=True)
    )
    mode = serializers.ChoiceField(choices=RollbackMode.choices)
    # Optional, so the default is given here: validated data then always holds it.
    cooldown_minutes = serializers.IntegerField(
        min_value=0,
        max_value=7 * 24 * 60,
        default=RollbackPlan._meta.get_field("cooldown_minutes").default,
        help_text="Minutes, from 0 to a week; omitted: the default",
    )
    triggers = TriggerSerializer(many=True)
    advance_on_analysis = serializers.BooleanField(
        default=False,
        help_text="A rollout stage whose analysis passes moves on to the next stage by itself",
    )
    written_by: serializers.SlugRelatedField = Username(slug_field="username", read_only=True)

    class Meta:
        model = RollbackPlan
        fields = [
            "environment",
            "target_release",
            "owners",
            "mode",
            "cooldown_minutes",
            "triggers",
            "advance_on_analysis",
            "written_by",
            "updated_at",
        ]
        read_only_fields = ["written_by", "updated_at"]

    def __init__(self, *args: Any, release: Release | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if release is not None:  # resolve slugs and versions within the release's system only
            scope(self, "environment", Environment.objects.filter(system=release.system_id))
            scope(self, "target_release", Release.objects.filter(system=release.system_id))


class RollbackRequestSerializer(api_types.ModelSerializer):
    environment: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    system = serializers.CharField(source="environment.system.slug", read_only=True)
    # Null where the model allows it: a trigger requests (no person), few are confirmed.
    from_release: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="version", read_only=True, allow_null=True
    )
    to_release: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="version", read_only=True
    )
    requested_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    confirmed_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = RollbackRequest
        fields = [
            "id",
            "system",
            "environment",
            "from_release",
            "to_release",
            "status",
            "reason",
            "idempotency_key",
            "requested_by",
            "confirmed_by",
            "trigger",
            "is_drill",
            "requested_at",
            "started_at",
            "finished_at",
            "attempts",
            "error",
        ]
        read_only_fields = fields


class RollbackAskSerializer(api_types.Serializer):
    reason = serializers.CharField(max_length=NOTE)
    idempotency_key = serializers.CharField(max_length=64, required=False, allow_blank=True)
    to_release = serializers.CharField(
        required=False, help_text="version; default: the plan's target, else the last one live"
    )
    drill = serializers.BooleanField(default=False)
    further = serializers.BooleanField(
        default=False,
        help_text=(
            "Roll back past the release a verified rollback put back live. Without it, a "
            "press then goes no further: moments after that rollback it answers 200 with it "
            "(a late second press), later 400 with the message under `further`. With it "
            "where no rollback put the live release back: 400. Retry with the same "
            "`idempotency_key`, not a new press: each press of `further` goes one more back."
        ),
    )
    expected_from = serializers.CharField(
        max_length=64,
        required=False,
        help_text="version you saw live; if another one is live now: 400, nothing done",
    )
    expected_target = serializers.CharField(
        max_length=64,
        required=False,
        help_text="version you saw as the target; if the press would put another one live: "
        "400, nothing done",
    )


class IncidentRollbackAskSerializer(RollbackAskSerializer):
    """ROLL BACK NOW from an incident: its environment, to the plan's target; no drill."""

    reason = serializers.CharField(
        max_length=NOTE, required=False, allow_blank=True, help_text="default: the incident's"
    )
    to_release = None  # type: ignore[assignment]
    drill = None  # type: ignore[assignment]


class RollbackDismissSerializer(api_types.Serializer):
    reason = serializers.CharField(max_length=NOTE)

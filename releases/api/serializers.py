from __future__ import annotations

from typing import Any, ClassVar, cast

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.api import types as api_types
from governance.api.serializers import SlugRelatedField
from governance.limits import NAME, NOTE, PROSE, QUERY
from governance.validators import validate_web_url
from releases import queries
from releases.analysis.condition import parse_condition
from releases.gate_policy import evaluate, policy_for
from releases.models import (
    MODEL_CARD_FIELDS,
    Approval,
    BackendType,
    ChangeCategory,
    Comparison,
    ComponentKind,
    Decision,
    Environment,
    GateCheck,
    GateCriterion,
    GatePolicy,
    RegistryVersion,
    Release,
    ReleaseComponent,
    RollbackMode,
    RollbackPlan,
    RollbackRequest,
    RollbackTrigger,
    RolloutStage,
    RolloutStep,
    StageAnalysis,
)

Username = SlugRelatedField


def _scope(serializer: serializers.Serializer, name: str, queryset: Any) -> None:
    """Resolve a related field only among the release's own system's objects."""
    cast(serializers.RelatedField, serializer.fields[name]).queryset = queryset


class ComponentSerializer(api_types.ModelSerializer):
    kind = serializers.ChoiceField(choices=ComponentKind.choices)
    digest = serializers.CharField(
        max_length=71, help_text="sha256 in hex (a sha256: prefix is allowed)"
    )

    class Meta:
        model = ReleaseComponent
        fields = ["kind", "version", "uri", "digest"]


class ModelCardSerializer(api_types.Serializer):
    what_changed = serializers.CharField(max_length=PROSE)
    why = serializers.CharField(max_length=PROSE)
    data_used = serializers.CharField(max_length=PROSE)
    channels_tested = serializers.CharField(max_length=PROSE)
    expected_benefits = serializers.CharField(max_length=PROSE)
    known_risks = serializers.CharField(max_length=PROSE)
    rollback_trigger = serializers.CharField(max_length=PROSE)


class ReleaseWriteSerializer(api_types.Serializer):
    """The input of registering or editing a draft release."""

    system = serializers.SlugField(help_text="The AI system's slug", required=False)
    version = serializers.CharField(max_length=64, required=False)
    title = serializers.CharField(max_length=NAME)
    card = ModelCardSerializer()
    components = ComponentSerializer(many=True)
    change_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=ChangeCategory.choices), required=False, default=list
    )


class GateCheckSerializer(api_types.ModelSerializer):
    recorded_by: serializers.SlugRelatedField = Username(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Null: recorded by the registry intake from the training run's metrics",
    )
    criterion = serializers.ChoiceField(choices=GateCriterion.choices)
    comparison = serializers.ChoiceField(choices=Comparison.choices)
    attested_pass = serializers.BooleanField(
        write_only=True,
        required=False,
        allow_null=True,
        help_text="For comparison 'attested': whether the criterion is met",
    )

    class Meta:
        model = GateCheck
        fields = [
            "id",
            "criterion",
            "comparison",
            "measured_value",
            "target",
            "unit",
            "attested_pass",
            "passed",
            "evidence_uri",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["id", "passed", "recorded_by", "recorded_at"]


class ApprovalSerializer(api_types.ModelSerializer):
    approver: serializers.SlugRelatedField = Username(slug_field="username", read_only=True)
    decision = serializers.ChoiceField(choices=Decision.choices)
    cites_rollback = serializers.IntegerField(
        source="cites_rollback_id",
        required=False,
        allow_null=True,
        help_text="For a rolled-back release's return: the id of the rollback that took it down.",
    )

    class Meta:
        model = Approval
        fields = [
            "id", "approver", "decision", "comment", "cites_rollback", "release_digest",
            "decided_at",
        ]  # fmt: skip
        read_only_fields = ["id", "approver", "release_digest", "decided_at"]


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
            _scope(self, "environment", Environment.objects.filter(system=release.system_id))
            _scope(self, "target_release", Release.objects.filter(system=release.system_id))


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

    class Meta:
        model = RolloutStep
        fields = [
            "id",
            "environment",
            "stage",
            "traffic_percent",
            "analysis",
            "status",
            "idempotency_key",
            "requested_by",
            "requested_at",
            "applied_at",
            "error",
        ]
        read_only_fields = [
            "id",
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
            _scope(self, "environment", Environment.objects.filter(system=release.system_id))


class ReleaseSerializer(api_types.ModelSerializer):
    """A release as read: stack, card, gate state, approvals, plan and rollout."""

    system: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    author: serializers.SlugRelatedField = Username(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Null while only the registry intake has touched it (MLflow): the first "
        "model owner to edit or submit it becomes its author",
    )
    components = ComponentSerializer(many=True, read_only=True)
    card = serializers.SerializerMethodField()
    gate = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "system",
            "version",
            "title",
            "status",
            "author",
            "created_at",
            "submitted_at",
            "decided_at",
            "content_digest",
            "stack_digest",
            "change_categories",
            "components",
            "card",
            "gate",
        ]
        read_only_fields = fields

    def get_card(self, release: Release) -> dict[str, str]:
        return {name: getattr(release, name) for name in MODEL_CARD_FIELDS}

    def get_gate(self, release: Release) -> dict[str, Any]:
        policy = self.context.get("policies", {}).get(release.system_id) or policy_for(
            release.system
        )
        evaluation = evaluate(release, policy, list(release.gate_checks.all()))
        return {
            "passed": evaluation.passed,
            "approvals_required": policy.approvals_required,
            "missing": [state.criterion.value for state in evaluation.missing],
        }


class RegisteredFromSerializer(api_types.ModelSerializer):
    """Where the registry intake took a release from: the MLflow model version and its run."""

    class Meta:
        model = RegistryVersion
        fields = ["model_name", "version", "source", "run_id", "run_url", "digest_source",
                  "flavors", "metrics", "unmapped_metrics"]  # fmt: skip
        read_only_fields = fields


class ReleaseDetailSerializer(ReleaseSerializer):
    gate_checks = GateCheckSerializer(many=True, read_only=True)
    approvals = ApprovalSerializer(many=True, read_only=True)
    rollback_plan = RollbackPlanSerializer(read_only=True, allow_null=True)
    rollout_steps = RolloutStepSerializer(many=True, read_only=True)
    registered_from = serializers.SerializerMethodField(
        help_text="The MLflow model version it was imported from; null if registered by hand"
    )

    class Meta(ReleaseSerializer.Meta):
        fields = [
            *ReleaseSerializer.Meta.fields,
            "gate_checks",
            "approvals",
            "rollback_plan",
            "rollout_steps",
            "registered_from",
        ]
        read_only_fields = fields

    @extend_schema_field(RegisteredFromSerializer(allow_null=True))
    def get_registered_from(self, release: Release) -> dict[str, Any] | None:
        found = queries.registered_from(release)
        return RegisteredFromSerializer(found).data if found else None


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


class GatePolicySerializer(api_types.ModelSerializer):
    required_criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=GateCriterion.choices)
    )
    required_stages = serializers.ListField(
        child=serializers.ChoiceField(choices=RolloutStage.choices),
        required=False,
        max_length=len(RolloutStage.values),
        help_text="Rollout stages a release must pass in an environment before any later stage "
        "there (left out: kept as it is)",
    )

    class Meta:
        model = GatePolicy
        fields = ["required_criteria", "approvals_required", "required_stages", "updated_at"]
        read_only_fields = ["updated_at"]
        # PUT replaces the whole policy: an omitted count is a 400, not the model's default.
        extra_kwargs: ClassVar[dict[str, Any]] = {"approvals_required": {"required": True}}


class LiveAtSerializer(api_types.Serializer):
    at = serializers.DateTimeField(required=False, help_text="Defaults to now")


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


class HeldReleaseSerializer(api_types.Serializer):
    id = serializers.IntegerField()
    version = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()


class StackConflictSerializer(api_types.Serializer):
    """What a POST of a stack registered under another version is told (409)."""

    detail = serializers.CharField()
    release = HeldReleaseSerializer()

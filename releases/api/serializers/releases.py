"""A release: its stack, model card, gate checks and approvals; the gate policy; what the
idempotent registration answers."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.api import types as api_types
from governance.api.serializers import SlugRelatedField
from governance.limits import NAME, PROSE
from releases import queries
from releases.api.serializers.rollbacks import RollbackPlanSerializer
from releases.api.serializers.rollouts import RolloutStepSerializer
from releases.gate_policy import evaluate, policy_for
from releases.models import (
    MODEL_CARD_FIELDS,
    SOAK_MAX_MINUTES,
    Approval,
    ChangeCategory,
    Comparison,
    ComponentKind,
    Decision,
    GateCheck,
    GateCriterion,
    GatePolicy,
    RegistryVersion,
    Release,
    ReleaseComponent,
    RolloutStage,
)

Username = SlugRelatedField


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

    soak_minutes = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=SOAK_MAX_MINUTES),
        required=False,
        help_text="Minutes each stage's step must have been applied before the rollout moves "
        'past it, by stage: {"segment_monitoring": 60} (left out: kept as it is)',
    )

    class Meta:
        model = GatePolicy
        fields = [
            "required_criteria", "approvals_required", "required_stages", "soak_minutes",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["updated_at"]
        # PUT replaces the whole policy: an omitted count is a 400, not the model's default.
        extra_kwargs: ClassVar[dict[str, Any]] = {"approvals_required": {"required": True}}


class HeldReleaseSerializer(api_types.Serializer):
    id = serializers.IntegerField()
    version = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()


class StackConflictSerializer(api_types.Serializer):
    """What a POST of a stack registered under another version is told (409)."""

    detail = serializers.CharField()
    release = HeldReleaseSerializer()

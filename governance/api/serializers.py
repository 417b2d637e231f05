from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from governance.api import types as api_types
from governance.models import (
    AISystem,
    AuditEvent,
    DriftSeverity,
    OperatorRole,
    ReportingRegime,
    RiskCategory,
    RoleGrant,
)
from governance.roles import Role


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's, but a name holding a NUL character is invalid input, as every CharField of DRF
    says: PostgreSQL text cannot hold one, and the lookup would fail in the database (a 500)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class SystemSerializer(api_types.ModelSerializer):
    slug = serializers.SlugField(max_length=80, required=False)
    owners = SlugRelatedField(
        many=True,
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="Usernames of the owners (they edit the entry and manage roles).",
    )
    risk_category = serializers.ChoiceField(choices=RiskCategory.choices)
    operator_role = serializers.ChoiceField(
        choices=OperatorRole.choices,
        required=False,
        help_text="The organisation's role for the system; provider when not given.",
    )
    reporting_regime = serializers.ChoiceField(
        choices=ReportingRegime.choices,
        required=False,
        help_text="The law serious incidents are reported under (Art. 73(9), (10)); "
        "ai_act when not given.",
    )
    drift_severity = serializers.ChoiceField(
        choices=DriftSeverity.choices,
        required=False,
        allow_blank=True,
        help_text="The severity of the incident an ungoverned change declares; blank (the "
        "default): by the risk tier (high or prohibited sev1, limited sev2, minimal sev3).",
    )

    pagerduty_routing_key = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=100,
        help_text="The Events API v2 integration key of the PagerDuty service its serious "
        "incidents page; never returned. Blank turns paging off; left out, it stays.",
    )
    pages_pagerduty = serializers.SerializerMethodField(
        help_text="Whether its serious incidents page PagerDuty."
    )
    slack_bot_token = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=255,
        help_text="The Slack app's bot token (xoxb-…) that posts its incidents, with ROLL BACK "
        "NOW, to slack_channel_id; never returned. Blank with a blank channel turns Slack off; "
        "left out, it stays.",
    )
    slack_channel_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="The id (C…) of the Slack channel its incidents are posted to.",
    )
    posts_to_slack = serializers.SerializerMethodField(
        help_text="Whether its incidents are posted to Slack."
    )

    class Meta:
        model = AISystem
        fields = [
            "id", "name", "slug", "intended_purpose", "risk_category", "operator_role",
            "reporting_regime", "drift_severity", "pagerduty_routing_key", "pages_pagerduty",
            "slack_bot_token", "slack_channel_id", "posts_to_slack", "owners", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's rule: it answers with the same field errors.
        extra_kwargs: ClassVar[dict[str, Any]] = {"name": {"validators": []}}

    def get_pages_pagerduty(self, instance: AISystem) -> bool:
        return bool(instance.pagerduty_routing_key)

    def get_posts_to_slack(self, instance: AISystem) -> bool:
        return bool(instance.slack_bot_token)

    def to_representation(self, instance: AISystem) -> dict:
        data = super().to_representation(instance)
        grants = getattr(instance, "owner_grants", None)
        if grants is None:
            grants = instance.role_grants.filter(
                role=Role.OWNER, user__isnull=False
            ).select_related("user")
        data["owners"] = sorted(g.user.username for g in grants if g.user is not None)
        return data


class RoleGrantSerializer(api_types.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    user = SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    group = SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    granted_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = RoleGrant
        fields = ["id", "role", "user", "group", "granted_at", "granted_by"]
        read_only_fields = ["id", "granted_at", "granted_by"]

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("user")) == bool(attrs.get("group")):
            raise serializers.ValidationError({"user": "Name either a user or a group."})
        return attrs


class AuditEventSerializer(api_types.ModelSerializer):
    system: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,  # null: events of no one system
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id", "chain", "seq", "system", "occurred_at", "actor_name", "credential", "request_id",
            "action", "object_type", "object_id", "object_repr", "before", "after", "prev_hash",
            "hash",
        ]  # fmt: skip
        read_only_fields = fields

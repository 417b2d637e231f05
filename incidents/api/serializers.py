from __future__ import annotations

from rest_framework import serializers

from governance.api import types as api_types
from governance.limits import COMMENT, NAME, NOTE, POST
from incidents.art73 import (
    harm_choices,
    member_state_choices,
    operator_recipient_choices,
    reporting_clock,
)
from incidents.models import (
    ActionItem,
    AuthorityNotification,
    Category,
    ContainmentAction,
    ContainmentKind,
    EntryKind,
    Hotfix,
    Incident,
    IncidentRoleKind,
    OperatorNotice,
    PostMortem,
    Severity,
    Source,
    Stage,
    TimelineEntry,
)
from incidents.services.postmortem import POSTMORTEM_FIELDS
from releases.models import Release


class AuthorityNotificationSerializer(api_types.ModelSerializer):
    class Meta:
        model = AuthorityNotification
        fields = ["complete", "member_state", "authority", "reference", "sent_at"]
        read_only_fields = fields


class OperatorNoticeSerializer(api_types.ModelSerializer):
    class Meta:
        model = OperatorNotice
        fields = ["recipient", "name", "reference", "sent_at"]
        read_only_fields = fields


class HotfixSerializer(serializers.ModelSerializer):
    release: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="version", read_only=True
    )
    cited_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Hotfix
        fields = ["release", "cited_by", "cited_at"]
        read_only_fields = fields


class HotfixAskSerializer(api_types.Serializer):
    release = serializers.CharField(
        max_length=Release._meta.get_field("version").max_length or 64,
        help_text="The version of the release that fixes the incident",
    )


class OperatorNoticeAskSerializer(api_types.Serializer):
    recipient = serializers.ChoiceField(
        choices=operator_recipient_choices(), help_text="Whom the deployer informed (Art. 26(5))"
    )
    name = serializers.CharField(
        max_length=NAME, help_text="The provider's, importer's or distributor's name"
    )
    reference = serializers.CharField(
        max_length=NAME, required=False, allow_blank=True, help_text="Their reference"
    )
    sent_at = serializers.DateTimeField(required=False, help_text="When; default now")


class IncidentSerializer(api_types.ModelSerializer):
    system: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    environment: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    live_release: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="version", read_only=True, allow_null=True
    )
    # Empty until the incident is classified serious (Art. 3(49)); several may apply.
    harm_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=harm_choices()), read_only=True
    )
    reporting_deadline = serializers.SerializerMethodField()
    reporting_citation = serializers.SerializerMethodField()
    authority_notifications = AuthorityNotificationSerializer(many=True, read_only=True)
    operator_notices = OperatorNoticeSerializer(many=True, read_only=True)
    hotfixes = HotfixSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "system",
            "environment",
            "title",
            "summary",
            "severity",
            "category",
            "source",
            "stage",
            "skipped_stages",
            "detected_at",
            "acknowledged_at",
            "contained_at",
            "rolled_back_at",
            "recovered_at",
            "reviewed_at",
            "closed_at",
            "live_release",
            "release_snapshot",
            "plan_snapshot",
            "is_serious",
            "harm_categories",
            "aware_at",
            "initial_report_sent_at",
            "complete_report_sent_at",
            "causal_link_at",
            "authority_notifications",
            "operator_notices",
            "hotfixes",
            "reporting_deadline",
            "reporting_citation",
        ]
        read_only_fields = fields

    def get_reporting_deadline(self, incident: Incident) -> str | None:
        """The binding Art. 73 deadline, in UTC."""
        clock = reporting_clock(incident)
        return clock.deadline.isoformat() if clock else None

    def get_reporting_citation(self, incident: Incident) -> str | None:
        """Every Art. 73 paragraph that applies, the binding one first."""
        clock = reporting_clock(incident)
        return clock.citation if clock else None


class DeclareSerializer(api_types.Serializer):
    system = serializers.SlugField()
    environment = serializers.SlugField(required=False, allow_blank=True)
    title = serializers.CharField(max_length=NAME)
    summary = serializers.CharField(
        max_length=COMMENT, required=False, allow_blank=True, default=""
    )
    severity = serializers.ChoiceField(choices=Severity.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.USER_REPORT)  # type: ignore[assignment]


class StageSerializer(api_types.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(max_length=NOTE, required=False, allow_blank=True, default="")


class SeveritySerializer(api_types.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = serializers.CharField(max_length=NOTE)


class RoleAssignmentSerializer(api_types.Serializer):
    role = serializers.ChoiceField(choices=IncidentRoleKind.choices)
    user = serializers.CharField(help_text="username")


class UpdateSerializer(api_types.Serializer):
    kind = serializers.ChoiceField(
        choices=[(EntryKind.NOTE, "Note"), (EntryKind.STATUS_UPDATE, "Status update")],
        default=EntryKind.NOTE,
    )
    body = serializers.CharField(max_length=POST)


class TimelineEntrySerializer(api_types.ModelSerializer):
    pinned = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "occurred_at", "actor_name", "body", "data", "pinned"]
        read_only_fields = fields

    def get_pinned(self, entry: TimelineEntry) -> bool:
        return hasattr(entry, "pin")


class ContainmentSerializer(api_types.ModelSerializer):
    kind = serializers.ChoiceField(choices=ContainmentKind.choices)

    class Meta:
        model = ContainmentAction
        fields = ["id", "kind", "target", "status", "requested_at", "done_at", "undone_at"]
        read_only_fields = ["id", "status", "requested_at", "done_at", "undone_at"]


class ContainmentStatusSerializer(api_types.Serializer):
    status = serializers.ChoiceField(choices=[("done", "Done"), ("undone", "Undone")])


class SeriousSerializer(api_types.Serializer):
    harm_categories = serializers.MultipleChoiceField(
        choices=harm_choices(),
        allow_empty=False,
        help_text="Every harm the incident led to (Art. 3(49)); the shortest deadline binds.",
    )
    aware_at = serializers.DateTimeField(required=False)
    involves_death = serializers.BooleanField(default=False)
    widespread_infringement = serializers.BooleanField(default=False)


class ReportSentSerializer(api_types.Serializer):
    complete = serializers.BooleanField()
    sent_at = serializers.DateTimeField(required=False)
    member_state = serializers.ChoiceField(
        choices=member_state_choices(),
        required=False,
        help_text="The Member State whose market surveillance authority was notified",
    )
    authority = serializers.CharField(max_length=NAME, required=False)
    reference = serializers.CharField(
        max_length=NAME, required=False, allow_blank=True, help_text="The authority's reference"
    )


class CausalLinkSerializer(api_types.Serializer):
    at = serializers.DateTimeField(
        required=False, help_text="When the causal link was established or suspected; default now"
    )


class PostMortemSerializer(api_types.ModelSerializer):
    class Meta:
        model = PostMortem
        fields = [*POSTMORTEM_FIELDS, "published_at"]
        read_only_fields = ["published_at"]


class ActionItemSerializer(api_types.ModelSerializer):
    owner = serializers.CharField(required=False, allow_null=True, help_text="username")

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "status"]
        read_only_fields = ["id", "status"]

    def to_representation(self, item: ActionItem) -> dict:
        data = super().to_representation(item)
        data["owner"] = item.owner.username if item.owner else None
        return data


class AlertRecordedSerializer(api_types.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    incident = serializers.IntegerField(
        allow_null=True, help_text="The incident it declared or joined; null if none"
    )
    environment = serializers.CharField(
        allow_null=True, help_text="Slug of the environment its labels named; null if none"
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What went wrong with its labels, e.g. an environment label that matched "
        "no environment (the alert then has none and its incident cannot be rolled back)",
    )


class AlertsRecordedSerializer(api_types.Serializer):
    alerts = AlertRecordedSerializer(many=True)


class AlertPayloadRefusedSerializer(api_types.Serializer):
    detail = serializers.CharField(help_text="The field, then what is wrong with it")
    field = serializers.CharField(
        required=False,
        help_text='Where: "alerts[3].startsAt", "alerts[0].labels.team", "name"; "" for the '
        "payload as a whole; absent when the body is not JSON at all",
    )


class AlertPayloadTooLargeSerializer(api_types.Serializer):
    detail = serializers.CharField()
    limit = serializers.ChoiceField(choices=["alerts", "bytes"], help_text="Which limit")
    maximum = serializers.IntegerField(help_text="What one post may hold")
    received = serializers.IntegerField(help_text="What this one held")

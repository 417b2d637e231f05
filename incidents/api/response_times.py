"""The incidents dashboard's figures as JSON: the same query parameters, the same computation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api import types as api_types
from governance.api.validation import validated
from governance.http import api_actor
from governance.permissions import visible_systems
from incidents.models import Severity
from incidents.response_times import PERIOD_DAYS, incident_metrics, resolve_period

# ---- input ---------------------------------------------------------------------------------


class MetricsQuerySerializer(api_types.Serializer):
    """`period` (days) or `from`/`to` (dates, inclusive); a missing `to` is today, a missing
    `from` is `period` (default 90) days before `to`."""

    period = serializers.ChoiceField(
        choices=PERIOD_DAYS, required=False, help_text="Days up to today (default 90)"
    )
    system = serializers.SlugField(required=False, help_text="A system's slug")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword: it cannot be a class attribute.
        fields["from"] = serializers.DateField(required=False, help_text="First day, inclusive")
        fields["to"] = serializers.DateField(required=False, help_text="Last day, inclusive")
        return fields

    def validate_system(self, slug: str) -> Any:
        system = visible_systems(self.context["user"]).filter(slug=slug).first()
        if system is None:
            raise serializers.ValidationError("No such system among those you can see.")
        return system

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # resolve_period's errors are keyed by the parameter at fault.
        period = resolve_period(
            days=attrs.get("period"), start=attrs.get("from"), end=attrs.get("to")
        )
        return {"period": period, "system": attrs.get("system"), "severity": attrs.get("severity")}


# ---- output --------------------------------------------------------------------------------


class TimingSerializer(api_types.Serializer):
    count = serializers.IntegerField(help_text="Incidents with this stamp set")
    median_minutes = serializers.FloatField(source="median", allow_null=True)
    mean_minutes = serializers.FloatField(source="mean", allow_null=True)
    p90_minutes = serializers.FloatField(source="p90", allow_null=True)


class SliceSerializer(api_types.Serializer):
    count = serializers.IntegerField(help_text="Incidents detected in the period")
    acknowledge = TimingSerializer(help_text="Detection to acknowledged_at")
    contain = TimingSerializer(help_text="Detection to contained_at")
    roll_back = TimingSerializer(help_text="Detection to rolled_back_at")
    resolve = TimingSerializer(
        help_text="Detection to recovered_at, or closed_at when recovery was skipped"
    )


class SystemSliceSerializer(SliceSerializer):
    system = serializers.CharField(source="system.slug")
    system_name = serializers.CharField(source="system.name")


class SeveritySliceSerializer(SliceSerializer):
    severity = serializers.ChoiceField(choices=Severity.choices)


class BreakdownSerializer(SystemSliceSerializer):
    severity = serializers.ChoiceField(choices=Severity.choices)


class WeekSerializer(api_types.Serializer):
    week = serializers.DateField(source="start", help_text="The Monday")
    count = serializers.IntegerField()
    resolve_median_minutes = serializers.FloatField(source="resolve_median", allow_null=True)


class PeriodSerializer(api_types.Serializer):
    days = serializers.IntegerField(allow_null=True, help_text="Null for explicit dates")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(source="start")
        fields["to"] = serializers.DateField(source="end")
        return fields


class IncidentMetricsSerializer(api_types.Serializer):
    period = PeriodSerializer()
    system = serializers.CharField(source="system.slug", allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices, allow_null=True)
    open_incidents = serializers.IntegerField(
        source="open_count", help_text="Open now, whenever detected"
    )
    summary = SliceSerializer(source="overall")
    by_system = SystemSliceSerializer(many=True)
    by_severity = SeveritySliceSerializer(many=True)
    breakdown = BreakdownSerializer(many=True, help_text="Per system and severity")
    weekly = WeekSerializer(many=True)


class IncidentMetricsView(APIView):
    """Time to acknowledge, contain, roll back and resolve, in minutes, over the incidents of
    the systems you hold a role on: overall, per system, per severity, per system and
    severity, and week by week."""

    @extend_schema(parameters=[MetricsQuerySerializer], responses=IncidentMetricsSerializer)
    def get(self, request: Request) -> Response:
        user = api_actor(request)
        query = validated(MetricsQuerySerializer, request.query_params, context={"user": user})
        metrics = incident_metrics(user, **query)
        return Response(IncidentMetricsSerializer(metrics).data)

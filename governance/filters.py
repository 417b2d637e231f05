from __future__ import annotations

from datetime import UTC, date, datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from governance.models import AISystem, AuditEvent, RiskCategory


class SystemFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    risk_category = django_filters.ChoiceFilter(choices=RiskCategory.choices, label="Risk")

    class Meta:
        model = AISystem
        fields = ["q", "risk_category"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(name__icontains=value)
            | Q(slug__icontains=value)
            | Q(intended_purpose__icontains=value)
        )


class UTCDateTimeField(forms.DateTimeField):
    """Python takes UTC offsets up to ±23:59, PostgreSQL only to ±15:59: compare in UTC, and a
    time that has no UTC equivalent (year 1 minus an offset) is invalid input, not a 500."""

    def to_python(self, value: str | datetime | date | None) -> datetime | None:
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UTCDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UTCDateTimeField


class AuditEventFilter(django_filters.FilterSet):
    system = django_filters.CharFilter(field_name="system__slug", label="System")
    action = django_filters.CharFilter(lookup_expr="startswith", label="Action")
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact", label="Actor")
    object_type = django_filters.CharFilter(label="Object type")
    since = UTCDateTimeFilter(field_name="occurred_at", lookup_expr="gte", label="From")
    until = UTCDateTimeFilter(field_name="occurred_at", lookup_expr="lt", label="Until")
    # A column's header sorts by it; "-when" (newest first) when nothing is asked.
    sort = django_filters.OrderingFilter(
        fields=(
            ("occurred_at", "when"),
            ("system__name", "system"),
            ("actor_name", "actor"),
            ("action", "action"),
            ("object_type", "object"),
        ),
        label="Sort by",
    )

    class Meta:
        model = AuditEvent
        fields = ["system", "action", "actor", "object_type", "since", "until"]

    def filter_queryset(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Ties (one transaction's events, one actor's) keep the order they happened in."""
        ordered = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("sort"):
            ordered = ordered.order_by(*ordered.query.order_by, "-occurred_at", "-id")
        return ordered

from __future__ import annotations

import django_filters
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


class AuditEventFilter(django_filters.FilterSet):
    system = django_filters.CharFilter(field_name="system__slug", label="System")
    action = django_filters.CharFilter(lookup_expr="startswith", label="Action")
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact", label="Actor")
    object_type = django_filters.CharFilter(label="Object type")
    since = django_filters.DateTimeFilter(field_name="occurred_at", lookup_expr="gte", label="From")
    until = django_filters.DateTimeFilter(field_name="occurred_at", lookup_expr="lt", label="Until")

    class Meta:
        model = AuditEvent
        fields = ["system", "action", "actor", "object_type", "since", "until"]

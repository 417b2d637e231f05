from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from governance.permissions import visible_systems
from releases.models import Release, ReleaseStatus


class ReleaseListFilter(django_filters.FilterSet):
    system = django_filters.ModelChoiceFilter(
        queryset=None, field_name="system", to_field_name="slug", empty_label="All systems"
    )
    status = django_filters.ChoiceFilter(choices=ReleaseStatus.choices, empty_label="Any status")
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Release
        fields = ["system", "status", "q"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["system"].queryset = visible_systems(user).order_by("name")

    def search(self, queryset: QuerySet[Release], name: str, value: str) -> QuerySet[Release]:
        """Every word must appear in the version, the title or the system's name."""
        for word in value.split():
            queryset = queryset.filter(
                Q(version__icontains=word)
                | Q(title__icontains=word)
                | Q(system__name__icontains=word)
            )
        return queryset

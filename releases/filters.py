from __future__ import annotations

from typing import Any

import django_filters

from governance.permissions import visible_systems
from releases.models import Release, ReleaseStatus


class ReleaseListFilter(django_filters.FilterSet):
    system = django_filters.ModelChoiceFilter(
        queryset=None, field_name="system", to_field_name="slug", empty_label="All systems"
    )
    status = django_filters.ChoiceFilter(choices=ReleaseStatus.choices, empty_label="Any status")
    q = django_filters.CharFilter(field_name="version", lookup_expr="icontains", label="Version")

    class Meta:
        model = Release
        fields = ["system", "status", "q"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["system"].queryset = visible_systems(user).order_by("name")

"""Filters of the incident pages: the action items across every incident one can see."""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django import forms
from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from governance.permissions import visible_systems
from incidents.models import ActionItem, ActionItemStatus

NOT_DONE = "not_done"
MINE, UNASSIGNED = "mine", "unassigned"


def with_overdue(queryset: QuerySet[ActionItem], today: date | None = None) -> QuerySet[ActionItem]:
    """Annotate `is_overdue`: due before today and not done. One definition for every page."""
    today = today or timezone.localdate()
    overdue = Q(due_date__lt=today) & ~Q(status=ActionItemStatus.DONE)
    return queryset.annotate(
        is_overdue=Case(
            When(overdue, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    )


def in_work_order(queryset: QuerySet[ActionItem]) -> QuerySet[ActionItem]:
    """Work still to do first, soonest due first (no due date last), then the done ones."""
    done_last = Case(When(status=ActionItemStatus.DONE, then=Value(1)), default=Value(0))
    return queryset.order_by(done_last, F("due_date").asc(nulls_last=True), "id")


class ActionItemFilter(django_filters.FilterSet):
    """Expects a queryset annotated by `with_overdue`."""

    status = django_filters.ChoiceFilter(
        choices=[(NOT_DONE, "Not done"), *ActionItemStatus.choices],
        method="filter_status",
        empty_label="Any status",
    )
    owner = django_filters.ChoiceFilter(
        choices=[(MINE, "Assigned to me"), (UNASSIGNED, "No owner")],
        method="filter_owner",
        empty_label="Anyone",
    )
    system = django_filters.ModelChoiceFilter(
        queryset=None,
        field_name="incident__system",
        to_field_name="slug",
        empty_label="All systems",
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", widget=forms.CheckboxInput, label="Overdue only"
    )

    class Meta:
        model = ActionItem
        fields = ["status", "owner", "system", "overdue"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.filters["system"].queryset = visible_systems(user).order_by("name")

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == NOT_DONE:
            return queryset.exclude(status=ActionItemStatus.DONE)
        return queryset.filter(status=value)

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == MINE:
            return queryset.filter(owner=self.user)
        return queryset.filter(owner__isnull=True)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        # An unticked box arrives as False: it narrows nothing.
        return queryset.filter(is_overdue=True) if value else queryset

    @property
    def is_narrowed(self) -> bool:
        return any(self.data.get(name) for name in self.filters)

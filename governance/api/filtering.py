"""The API's filters refuse a value they cannot read (400), never ignore it.

django-filter's boolean filters read `?open=banana` as "not given" (its BooleanWidget maps
anything but true/false/1/0 to None) and answer the unfiltered list: a client with a typo
gets every incident and believes them open. Choice filters already refuse an unknown
choice; this makes the boolean ones do the same, and refuses an empty value where only a
choice, a boolean or a time is valid (`?risk_category=`, `?until=`: django-filter reads
it as not given), for every FilterSet of every API view (declared or built from
`filterset_fields`), in one place: the DEFAULT_FILTER_BACKENDS. A free-text filter (`?q=`)
may be empty: it then narrows nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django_filters import BooleanFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError as InvalidQuery

TRUE, FALSE = ("true", "True", "1"), ("false", "False", "0")


class StrictBooleanField(forms.NullBooleanField):
    """true/True/1, false/False/0, or absent; anything else is invalid."""

    widget = forms.TextInput  # the raw value, not a widget's guess at it

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value in (None, ""):
            return None
        if value is True or value in TRUE:
            return True
        if value is False or value in FALSE:
            return False
        raise ValidationError("Enter true or false.", code="invalid")


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        empty = {}
        for name, declared in filterset.filters.items():  # the instance's own deep copies
            if isinstance(declared, BooleanFilter):
                declared.field_class = StrictBooleanField
                declared.extra.pop("widget", None)
            text = issubclass(declared.field_class, forms.CharField)
            if not text and "" in request.query_params.getlist(name):
                empty[name] = ["Give a value, or leave the parameter out."]
        if empty:
            raise InvalidQuery(empty)
        return filterset

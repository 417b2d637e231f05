"""Input validation shared by the API views: a serializer's validated data, or a 400."""

from __future__ import annotations

from typing import Any

from django.http import Http404, QueryDict
from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    if isinstance(data, QueryDict):
        _refuse_empty_values(serializer, data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _refuse_empty_values(serializer: serializers.Serializer, data: QueryDict) -> None:
    """DRF reads a query or a form body as an HTML form: an optional field sent empty
    (`?at=`) is taken as not sent, and the request answered as if it said nothing. There
    only text that may be blank (`allow_blank`, documented without minLength) may be empty;
    a time, a number, a choice, a boolean or a slug sent empty is a 400 (as the filters'
    are: governance/api/filtering.py)."""
    empty = {
        name: ["Give a value, or leave the parameter out."]
        for name, field in serializer.fields.items()
        if "" in data.getlist(name) and not getattr(field, "allow_blank", False)
    }
    if empty:
        raise serializers.ValidationError(empty)


def object_id(value: str) -> int:
    """A path's object id as an int; anything else names no object: 404, not a crash."""
    try:
        return int(value)
    except ValueError:
        raise Http404("No such object.") from None

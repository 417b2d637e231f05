"""Input validation shared by the API views: a serializer's validated data, or a 400."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def object_id(value: str) -> int:
    """A path's object id as an int; anything else names no object: 404, not a crash."""
    try:
        return int(value)
    except ValueError:
        raise Http404("No such object.") from None

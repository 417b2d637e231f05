"""What the serializers share: a related field resolved among one system's objects only."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import serializers


def scope(serializer: serializers.Serializer, name: str, queryset: Any) -> None:
    """Resolve a related field only among the release's own system's objects."""
    cast(serializers.RelatedField, serializer.fields[name]).queryset = queryset

"""Before/after snapshots of model instances for audit events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import ForeignKey, ManyToManyField, Model

from governance.audit.hashing import normalise


def snapshot(instance: Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields as JSON values; foreign keys as their ids."""
    data: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if isinstance(field, ManyToManyField):
            data[name] = sorted(
                str(pk) for pk in getattr(instance, name).values_list("pk", flat=True)
            )
        elif isinstance(field, ForeignKey):
            data[name] = getattr(instance, field.attname)
        else:
            data[name] = getattr(instance, name)
    return normalise(data)

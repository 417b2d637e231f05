"""Small template helpers used across the apps' pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key, ()) if mapping else ()


@register.filter
def has_action(actions: frozenset, codename: str) -> bool:
    return any(a.value == codename for a in actions)

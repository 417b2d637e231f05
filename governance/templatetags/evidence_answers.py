"""Filters for the evidence pages, which render answers (plain dicts) rather than models."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from governance.validators import is_linkable

register = template.Library()


ACRONYMS = {"sdk": "SDK", "api": "API", "uri": "URI", "url": "URL"}


@register.filter
def key_label(key: str) -> str:
    """ "threshold_policy" → "Threshold policy", "sdk" → "SDK": a dict key as a person reads it."""
    words = [ACRONYMS.get(word, word) for word in str(key).split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@register.filter
def measured(value: Any, unit: str = "") -> str:
    """A stored decimal as it was entered, without the column's trailing zeros, then its unit:
    "0.912000" and "AUC" read "0.912 AUC"."""
    if value in (None, ""):
        return "—"
    try:
        number = format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        number = str(value)
    return f"{number} {unit}".strip()


@register.filter
def last_day(end: datetime) -> date:
    """The last day a period [start, end) covers: an end at midnight belongs to the day before."""
    return (end - timedelta(microseconds=1)).date()


@register.filter
def is_web_link(uri: str) -> bool:
    """Whether evidence recorded as a URI is safe to link (http, https or a path of the app);
    anything else (s3://, javascript:) is shown as text."""
    return is_linkable(uri)


@register.simple_tag
def evidence_documents() -> list[Any]:
    """The documents the apps registered for the pack, for the evidence pages' tabs."""
    from governance.evidence.pack.sections import documents

    return documents()

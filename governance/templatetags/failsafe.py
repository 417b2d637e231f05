"""Small template helpers used across the apps' pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from governance import people
from governance.validators import is_linkable

register = template.Library()


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key, ()) if mapping else ()


@register.filter
def has_action(actions: frozenset, codename: str) -> bool:
    return any(a.value == codename for a in actions)


@register.filter
def display_name(user: Any) -> str:
    """A person as pages name them: the full name, or the username for someone who gave none."""
    return people.display_name(user) if user else ""


_SEPARATOR = re.compile(r"([-_/])")  # not "." or ":": "2.1.0" and "v2:1" stay whole


@register.filter
def breakable(value: Any) -> SafeString:
    """An identifier ("threshold_policy-2.1.0", a path) that may wrap after its separators
    in a narrow column, never inside a word or a version number."""
    escaped = str(conditional_escape(value))
    return mark_safe(_SEPARATOR.sub(r"\1<wbr>", escaped))  # noqa: S308  (escaped above)


@register.filter
def linkable(value: Any) -> bool:
    """Whether a stored URI may be rendered as a link (http, https or a page of this site);
    anything else (s3://, javascript:) is shown as text."""
    return is_linkable(value)


@register.filter
def duration(value: Any) -> str:
    """A timedelta as people say it at 3 a.m.: "45 s", "12 min", "2 h 5 min", "3 d 4 h"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "—"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


@register.filter
def minutes(value: Any) -> str:
    """A number of minutes, exact to a tenth ("3.0 min"), or in seconds under one ("36 s")."""
    if value is None:
        return "—"
    if value < 1:
        return f"{round(value * 60)} s"
    return f"{value:.1f} min"


@register.filter
def since(value: Any) -> str:
    """How long since a moment, as `duration` says it ("45 s" for a fresh one)."""
    return elapsed(value, timezone.now())


@register.filter
def ago(value: Any) -> str:
    """A moment as a feed says it: "just now" within the minute, else "12 minutes ago"
    (where timesince alone would say "0 minutes")."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


@register.simple_tag
def elapsed(start: Any, end: Any) -> str:
    """The time from `start` to `end` (either may be missing), as `duration` says it."""
    if start is None or end is None:
        return "—"
    return duration(end - start)

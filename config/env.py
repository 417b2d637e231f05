"""Strict readers for settings that come from the environment.

A typo in a boolean or a missing secret must stop the process at start-up,
not surface later as a silently insecure default.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() == "true":
        return True
    if raw.lower() == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {raw!r}")


def env_secret(name: str, *, default: str | None = None) -> str:
    """Read NAME, or the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    value = os.environ.get(name)
    if value:
        return value
    if default is not None:
        return default
    raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set")


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, *, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


REDIS_SCHEMES = ("redis", "rediss", "unix")


def redis_url(name: str, url: str) -> str:
    """A Redis URL as redis-py reads it. Kombu's `redis+socket:///path` (the embedded broker's)
    becomes `unix:///path`; anything but Redis is refused, naming the setting."""
    scheme, sep, rest = url.partition("://")
    if scheme == "redis+socket" and sep:
        path, _, query = rest.partition("?")
        database = dict(p.partition("=")[::2] for p in query.split("&") if p).get("virtual_host")
        return f"unix://{path}" + (f"?db={database}" if database else "")
    if scheme not in REDIS_SCHEMES or not sep or not rest:
        raise ImproperlyConfigured(
            f"{name} must be a redis://, rediss:// or unix:// URL, not {url!r}"
        )
    return url


RATE_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
                "h": 3600, "hour": 3600, "d": 86400, "day": 86400}  # fmt: skip


def parse_rate(name: str, raw: str) -> tuple[int, int]:
    """(requests, seconds) of a rate written `600/min` (s, sec, second, m, min, minute, h,
    hour, d, day): a whole number of at least 1, then the period."""
    count, _, period = raw.strip().partition("/")
    period = period.strip().lower()
    if not (count.isascii() and count.isdigit() and int(count) >= 1) or period not in RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 600/min (a whole number of at least 1, then "
            f"/s, /min, /hour or /day), not {raw!r}"
        )
    return int(count), RATE_PERIODS[period]


def env_rate(name: str, *, default: str) -> str:
    """A rate limit from NAME (see parse_rate), checked at start-up."""
    raw = os.environ.get(name) or default
    parse_rate(name, raw)
    return raw.strip()

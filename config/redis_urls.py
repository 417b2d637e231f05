"""The broker's Redis in redis-py's words, for what else keeps its state there (config/beat.py)."""

from __future__ import annotations


def redis_url_of_broker(broker_url: str) -> str:
    """kombu's redis:// and rediss:// as they are, its redis+socket:// as unix://; "" when the
    broker is not Redis."""
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    return ""

"""The broker's Redis in redis-py's words, for what else keeps its state there (config/beat.py)."""

from __future__ import annotations

from config.env import redis_url


def redis_url_of_broker(broker_url: str) -> str:
    """kombu's redis:// and rediss:// as they are, its redis+socket:// as unix:// (with its
    database); "" when the broker is not Redis."""
    if not broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return ""
    return redis_url("CELERY_BROKER_URL", broker_url)

"""How long a task waits before its next try: exponential backoff with full jitter, never
sooner than the peer asked (its Retry-After), and never longer than a bound, so a peer asking
for an hour is asked again within the bound rather than obeyed."""

from __future__ import annotations

from celery.utils.time import get_exponential_backoff_interval


def retry_countdown(*, retries: int, factor: float, most: float, asked: float | None) -> float:
    backoff = get_exponential_backoff_interval(
        factor=factor, retries=retries, maximum=int(most), full_jitter=True
    )
    return max(float(backoff), min(asked or 0.0, most))

"""Celery tasks of releases: thin, idempotent, retried with backoff."""

from __future__ import annotations

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from releases.backends import BackendError


@shared_task(bind=True, name="releases.tasks.apply_rollout_step", max_retries=5)
def apply_rollout_step(self, step_id: int) -> str:  # type: ignore[no-untyped-def]
    """Apply a rollout step through its backend; transient errors retry, the last one fails it."""
    from releases.services import apply_rollout_step as apply
    from releases.services import fail_rollout_step

    try:
        return apply(step_id=step_id).status
    except BackendError as error:
        if self.request.retries >= self.max_retries:
            return fail_rollout_step(step_id=step_id, error=str(error)).status
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=60, full_jitter=True
        )
        raise self.retry(exc=error, countdown=countdown) from error

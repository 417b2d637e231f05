"""Celery tasks that tell people of a rollback's steps (releases/notifications.py).

Thin: each loads the rollback and sends one channel's message. Transient failures retry with
exponential backoff and full jitter, a bounded number of times (about five minutes in all);
then the notice is given up and the worker logs the error. They run on
ROLLBACK_NOTIFY_QUEUE, so a slow mail server never holds up the workers of rollbacks.
Celery autodiscovers `releases.tasks`, which imports this module.
"""

from __future__ import annotations

from celery import shared_task

from releases import notifications
from releases.models import RollbackRequest
from releases.retry import retry_countdown

NOTICE_MAX_RETRIES = 6
NOTICE_BACKOFF_SECONDS = 5  # 5, 10, 20 … seconds at most (full jitter), capped below
NOTICE_BACKOFF_MAX_SECONDS = 120


@shared_task(
    name="releases.notification_tasks.email_rollback_notice",
    # smtplib's errors are OSErrors, as are refused connections and timeouts.
    autoretry_for=(OSError,),
    retry_backoff=NOTICE_BACKOFF_SECONDS,
    retry_backoff_max=NOTICE_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def email_rollback_notice(request_id: int, event: str, message: str) -> str:
    """Email a step of a rollback to its plan's owners, rollback owners and on-call leads."""
    try:
        sent = notifications.email_notice(request_id=request_id, event=event, message=message)
    except RollbackRequest.DoesNotExist:
        return "missing"  # a message older than its database (tests, restores)
    return f"sent to {sent}" if sent else "nobody to tell"


@shared_task(
    bind=True,
    name="releases.notification_tasks.post_rollback_to_slack",
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def post_rollback_to_slack(self, request_id: int, event: str, message: str) -> str:  # type: ignore[no-untyped-def]
    """Post a step of a rollback to the Slack-compatible incoming webhook, if one is set.
    Retried as the email is, but never sooner than Slack's Retry-After (its rate limit)."""
    try:
        return notifications.post_to_slack(request_id=request_id, event=event, message=message)
    except RollbackRequest.DoesNotExist:
        return "missing"
    except notifications.SlackUnavailable as error:
        countdown = retry_countdown(
            retries=self.request.retries,
            factor=NOTICE_BACKOFF_SECONDS,
            most=NOTICE_BACKOFF_MAX_SECONDS,
            asked=error.retry_after,
        )
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task(
    name="releases.notification_tasks.email_drift_notice",
    autoretry_for=(OSError,),
    retry_backoff=NOTICE_BACKOFF_SECONDS,
    retry_backoff_max=NOTICE_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def email_drift_notice(drift_id: int, event: str, message: str) -> str:
    """Email a step of an ungoverned change to the system's owners and on-call leads."""
    from releases.drift import notices
    from releases.models import Drift

    try:
        sent = notices.email_notice(drift_id=drift_id, event=event, message=message)
    except Drift.DoesNotExist:
        return "missing"
    return f"sent to {sent}" if sent else "nobody to tell"


@shared_task(
    bind=True,
    name="releases.notification_tasks.post_drift_to_slack",
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def post_drift_to_slack(self, drift_id: int, event: str, message: str) -> str:  # type: ignore[no-untyped-def]
    """Post a step of an ungoverned change to the Slack-compatible incoming webhook."""
    from releases.drift import notices
    from releases.models import Drift

    try:
        return notices.post_to_slack(drift_id=drift_id, event=event, message=message)
    except Drift.DoesNotExist:
        return "missing"
    except notifications.SlackUnavailable as error:
        countdown = retry_countdown(
            retries=self.request.retries,
            factor=NOTICE_BACKOFF_SECONDS,
            most=NOTICE_BACKOFF_MAX_SECONDS,
            asked=error.retry_after,
        )
        raise self.retry(exc=error, countdown=countdown) from error

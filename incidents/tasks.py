"""Celery tasks of incidents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task

# The rollback notices' bounded retries (about five minutes in all): an email, as theirs.
from releases.notification_tasks import (
    NOTICE_BACKOFF_MAX_SECONDS,
    NOTICE_BACKOFF_SECONDS,
    NOTICE_MAX_RETRIES,
)


@shared_task(name="incidents.tasks.evaluate_rollback_triggers", ignore_result=True)
def evaluate_rollback_triggers() -> int:
    """Beat: alerts still inside their trigger's window when they arrived are looked at again
    here, so a trigger that holds long enough acts even if no new alert comes."""
    from incidents.services.triggers import evaluate_open_incidents

    return evaluate_open_incidents()


@shared_task(
    name="incidents.tasks.email_unmatched_environment",
    autoretry_for=(OSError,),  # smtplib's errors, refused connections and timeouts
    retry_backoff=NOTICE_BACKOFF_SECONDS,
    retry_backoff_max=NOTICE_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def email_unmatched_environment(incident_id: int, label: str, value: str) -> str:
    """Tell the system's owners an alert left an incident without an environment."""
    from incidents import notifications
    from incidents.models import Incident

    try:
        sent = notifications.email_unmatched_environment(
            incident_id=incident_id, label=label, value=value
        )
    except Incident.DoesNotExist:
        return "missing"  # a message older than its database (tests, restores)
    return f"sent to {sent}" if sent else "nobody to tell"


@shared_task(
    name="incidents.tasks.email_alert_storm",
    autoretry_for=(OSError,),  # smtplib's errors, refused connections and timeouts
    retry_backoff=NOTICE_BACKOFF_SECONDS,
    retry_backoff_max=NOTICE_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=NOTICE_MAX_RETRIES,
    ignore_result=True,
)
def email_alert_storm(incident_id: int) -> str:
    """Tell the system's owners that an alert token's alerts now join a storm incident."""
    from incidents import notifications
    from incidents.models import Incident

    try:
        sent = notifications.email_alert_storm(incident_id=incident_id)
    except Incident.DoesNotExist:
        return "missing"  # a message older than its database (tests, restores)
    return f"sent to {sent}" if sent else "nobody to tell"


CHANNEL_MAX_RETRIES = 10  # with backoff capped at a minute: about eight minutes in all
CHANNEL_BACKOFF_MOST_SECONDS = 60.0


def _sync_channel(task: Any, sync: Callable[..., str], incident_id: int) -> str:
    """Run a channel's sync for the incident: a transient failure retries with backoff and
    full jitter, never sooner than the channel's Retry-After; a lasting one, or the last
    retry, gives up (said in the log and on the channel's record)."""
    from incidents.integrations import ChannelError
    from incidents.models import Incident
    from releases.retry import retry_countdown

    try:
        return sync(incident_id=incident_id)
    except Incident.DoesNotExist:
        return "missing"
    except ChannelError as error:
        if not error.transient or task.request.retries >= CHANNEL_MAX_RETRIES:
            return "failed"
        countdown = retry_countdown(
            retries=task.request.retries, factor=1.0, most=CHANNEL_BACKOFF_MOST_SECONDS,
            asked=error.retry_after,
        )  # fmt: skip
        raise task.retry(exc=error, countdown=countdown, max_retries=None) from error


@shared_task(bind=True, name="incidents.tasks.page_incident", ignore_result=True)
def page_incident(self, incident_id: int) -> str:  # type: ignore[no-untyped-def]
    """Bring the incident's PagerDuty page in line with it (incidents.paging)."""
    from incidents import paging

    return _sync_channel(self, paging.sync_page, incident_id)


@shared_task(bind=True, name="incidents.tasks.post_to_slack", ignore_result=True)
def post_to_slack(self, incident_id: int) -> str:  # type: ignore[no-untyped-def]
    """Bring the incident's Slack message in line with it (incidents.slack.messages)."""
    from incidents.slack import messages

    return _sync_channel(self, messages.sync_message, incident_id)

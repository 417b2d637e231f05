"""What the incident's outside channels share (PagerDuty: incidents.paging; Slack:
incidents.slack): a failure that says whether to try again, and the hand-over of the task that
brings the channel in line with the incident once the change committed.

The task runs with the rollback notices, and as late as they (ROLLBACK_NOTIFY_QUEUE, after
ROLLBACK_NOTICE_DELAY_SECONDS): a rollback's first moments keep the workers, and a channel
that is down, slow or hung never holds up an alert, a press or a rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from config import handoff


@dataclass
class ChannelError(Exception):
    """The channel did not take what was sent; `transient`: worth trying again (after
    `retry_after` seconds, if it said)."""

    message: str
    transient: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message


def sync_after_commit(task: Any, incident_id: int, label: str) -> None:
    """Send `task(incident_id)` once this transaction commits (config.handoff)."""

    def send() -> None:
        handoff.send(
            task,
            (incident_id,),
            label=f"{label} for incident {incident_id}",
            queue=settings.ROLLBACK_NOTIFY_QUEUE,
            countdown=settings.ROLLBACK_NOTICE_DELAY_SECONDS,
        )

    transaction.on_commit(send)

"""Handing a rollback request to the broker: the Celery task that runs it, sent from this
process's sending thread (config.handoff) so the press never waits on the broker."""

from __future__ import annotations

from django.conf import settings

from config import handoff


def enqueue(request_id: int) -> None:
    """Hand the request to the broker, from this process's sending thread: the press answers
    whatever the broker does. A broker that is down or hung is not the presser's problem:
    the request stays recorded, the thread keeps trying, and the sweep re-sends it anyway
    if this process dies first."""
    from releases.tasks import execute_rollback

    handoff.send(
        execute_rollback,
        (request_id,),
        queue=settings.ROLLBACK_QUEUE,
        label=f"rollback {request_id}",
    )

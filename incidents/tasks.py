"""Celery tasks of incidents."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="incidents.tasks.evaluate_rollback_triggers", ignore_result=True)
def evaluate_rollback_triggers() -> int:
    """Beat: alerts still inside their trigger's window when they arrived are looked at again
    here, so a trigger that holds long enough acts even if no new alert comes."""
    from incidents.services.triggers import evaluate_open_incidents

    return evaluate_open_incidents()

"""The Celery application: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("failsafe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _redbeat_settings() -> dict[str, Any]:
    # celery-redbeat looks its settings up by their bare names (redbeat_redis_url…), which
    # the CELERY_ namespace does not give it: passed on when the configuration is first read.
    from django.conf import settings

    return {
        "redbeat_redis_url": settings.CELERY_REDBEAT_REDIS_URL,
        "redbeat_redis_options": settings.CELERY_REDBEAT_REDIS_OPTIONS,
        "redbeat_lock_timeout": settings.CELERY_REDBEAT_LOCK_TIMEOUT,
    }


app.add_defaults(_redbeat_settings)


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    # A task is a request to Django: its connection goes back to the process's pool (or is
    # kept for CONN_MAX_AGE with DB_POOL=false), a broken one is dropped (CONN_HEALTH_CHECKS).
    # CELERY_DB_REUSE_MAX stops Celery's own fixup from closing it after every task, which
    # cost every rollback a new PostgreSQL session. A task run eagerly (apply()) is part of
    # its caller's work and its transaction: left alone.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _freeze_what_is_loaded(**kwargs: Any) -> None:
    # As in config/wsgi.py: a pool process's modules stay for its life; the collector's
    # full passes skip them instead of stalling a task now and then.
    gc.freeze()


@setup_logging.connect
def _keep_django_logging(**kwargs: Any) -> None:
    # A receiver tells Celery not to replace the root logger's handlers: the worker logs
    # through Django's LOGGING (JSON lines with request id and task in production).
    return None


# The request that enqueued a task travels with it: the task's log lines and audit events
# carry the id of the request (the press of a button) that caused them.
REQUEST_ID_HEADER = "failsafe_request_id"


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    from governance.audit.context import current_request_id

    request_id = current_request_id.get()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def _set_request_id(task: Any = None, task_id: str = "", **kwargs: Any) -> None:
    # Eager tasks (apply()) run inside their caller's request and keep its id. Work nobody
    # requested (beat, the sweep) is known by its task id.
    if task is None or getattr(task.request, "is_eager", False):
        return
    from governance.audit.context import current_request_id

    current_request_id.set(task.request.get(REQUEST_ID_HEADER) or task_id)


@task_postrun.connect
def _clear_request_id(task: Any = None, **kwargs: Any) -> None:
    if task is None or getattr(task.request, "is_eager", False):
        return
    from governance.audit.context import current_request_id

    current_request_id.set("")  # the worker's own lines between tasks belong to no request

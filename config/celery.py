"""The Celery application: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("failsafe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    # A task is a request to Django: keep the connection for CONN_MAX_AGE, drop a broken one
    # (CONN_HEALTH_CHECKS). CELERY_DB_REUSE_MAX stops Celery's own fixup from closing it
    # after every task, which cost every rollback a new PostgreSQL session. A task run
    # eagerly (apply()) is part of its caller's work and its transaction: left alone.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()

"""What every log line carries besides its message: the request id and the actor.

`ContextFilter` sits on the handler (config/settings.py LOGGING), so every record that
reaches it, from any logger, gets `request_id` (governance.audit.context, set by the
request-id middleware, or by config/celery.py for a task) and `actor` (the username of
the request's user). In a Celery task it also gets `task_id` and `task_name`.

A log line never queries the database to name its actor: the user is named once Django
or DRF has looked it up for the request (every page and API call does, before the view
runs), and the actor is empty until then.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from django.core.exceptions import AppRegistryNotReady
from django.http import HttpRequest
from django.utils.functional import LazyObject, empty

# The request being served, set by governance.middleware.RequestIdMiddleware.
current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)


def current_actor(request: HttpRequest | None = None) -> str:
    request = request or current_request.get()
    if request is None:
        return ""
    # AuthenticationMiddleware sets a lazy user; DRF replaces it with the one it authenticated.
    user = vars(request).get("user")
    if isinstance(user, LazyObject):  # isinstance reads the type: it does not evaluate
        user = getattr(user, "_wrapped", empty)  # read, not evaluated
        if user is empty:
            return ""
    if user is None or not user.is_authenticated:
        return ""
    return str(user.get_username())


def _request_id() -> str:
    # Imported here: logging is configured before the apps load, and governance.audit
    # imports models. A line logged while the apps load belongs to no request.
    try:
        from governance.audit.context import current_request_id
    except AppRegistryNotReady:
        return ""
    return current_request_id.get()


class ContextFilter(logging.Filter):
    """Adds request_id and actor (and task_id, task_name in a Celery task) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery import current_task

        # django.request logs a 4xx/5xx response after the middleware has returned, but
        # hands over the request itself.
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request_id = getattr(request, "request_id", "") or _request_id()
            record.actor = current_actor(request)
        else:
            record.request_id = _request_id()
            record.actor = current_actor()
        if current_task:  # a proxy: false outside a task
            record.task_id = current_task.request.id
            record.task_name = current_task.name
        return True

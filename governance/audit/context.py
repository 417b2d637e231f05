"""The request id of the work in progress, set by middleware (or a task) and read by the audit."""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)

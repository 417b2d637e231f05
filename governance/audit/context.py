"""The request id of the work in progress, set by middleware (or a task) and read by the audit,
and the credential the request authenticated with."""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)

# What the request's user signed in with, when it is not their session: an API token, an
# alert token, HTTP Basic. Set by the authentication, cleared by the request-id middleware.
current_credential: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_credential", default=""
)

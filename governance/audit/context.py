"""The request id of the work in progress, set by middleware (or a task) and read by the audit,
and the credential the request authenticated with."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)

# What the request's user signed in with, when it is not their session: an API token, an
# alert token, HTTP Basic. Set by the authentication, cleared by the request-id middleware.
current_credential: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_credential", default=""
)


@contextlib.contextmanager
def acting_as(credential: str) -> Iterator[None]:
    """Work done outside a request on a machine's word (a task importing what a signed
    webhook announced): the audit trail names it as the credential of its events."""
    token = current_credential.set(credential)
    try:
        yield
    finally:
        current_credential.reset(token)

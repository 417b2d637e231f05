"""What other apps do of a drift: releases may not import incidents (dependencies point
incidents → releases → governance), so the incidents app registers, when Django loads it, a
listener that declares the *ungoverned change* incident when a drift is detected and writes
each later step on its timeline, and a link to its war room for the notices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from releases.models import Drift
    from releases.notifications import Link

# (drift, event, message): event is detected, changed, restored or adopted. It runs inside
# the reconcile's (or the adoption's) transaction: what it writes commits with the drift.
Listener = Callable[["Drift", str, str], None]
LinkProvider = Callable[["Drift"], "Link | None"]

_listeners: list[Listener] = []
_links: list[LinkProvider] = []


def on_drift(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def link_drifts(provider: LinkProvider) -> None:
    """A page for the drift's notices (the incident's war room)."""
    if provider not in _links:
        _links.append(provider)


def notify(drift: Drift, event: str, message: str) -> None:
    for listener in _listeners:
        listener(drift, event, message)


def link_for(drift: Drift) -> Link | None:
    for provider in _links:
        found = provider(drift)
        if found is not None:
            return found
    return None

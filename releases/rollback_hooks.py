"""What other apps learn of a rollback, and what they add to its forensic record.

releases knows nothing of incidents (dependencies point the other way). The incidents app
registers a listener, which writes each step of a rollback to the incident's timeline in
the same transaction as the step, and a collector, which adds the incident's alerts and
last timeline entries to the forensic record before the backend is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from releases.models import Environment, RollbackRequest

# (request, event, message): event is proposed, requested, running, succeeded, failed, dismissed
Listener = Callable[["RollbackRequest", str, str], None]
Collector = Callable[["RollbackRequest"], dict[str, Any]]


@dataclass(frozen=True)
class Served:
    """The incident a rollback serves, as the deployment backends record it."""

    reference: str  # "INC-42"
    title: str
    url: str  # its war room: a path on this site


Describer = Callable[["RollbackRequest"], Served | None]

# (environment, title, summary) -> what links a plan-initiated rollback (a PromQL trigger's,
# a failed stage analysis's) to where people watch it, run right after the request is
# written; None: nowhere. The incidents app answers with the environment's open incident,
# or one it declares, so that a proposal has a war room to be confirmed in.
Attach = Callable[["RollbackRequest"], None]
Host = Callable[["Environment", str, str], Attach | None]

_listeners: list[Listener] = []
_hosts: list[Host] = []
_collectors: list[Collector] = []
_citers: list[Collector] = []
_describers: list[Describer] = []


def describe_served(describer: Describer) -> None:
    """What the deployment backend should record of the incident a rollback serves."""
    if describer not in _describers:
        _describers.append(describer)


def served(request: RollbackRequest) -> Served | None:
    for describer in _describers:
        found = describer(request)
        if found is not None:
            return found
    return None


def describe_citation(citer: Collector) -> None:
    """What a record citing a rollback should say of it (the incident it served)."""
    if citer not in _citers:
        _citers.append(citer)


def cited(request: RollbackRequest) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for citer in _citers:
        described.update(citer(request))
    return described


def host_plan_rollbacks(host: Host) -> None:
    if host not in _hosts:
        _hosts.append(host)


def host_for(environment: Environment, title: str, summary: str) -> Attach | None:
    for host in _hosts:
        attach = host(environment, title, summary)
        if attach is not None:
            return attach
    return None


def on_rollback(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def collect_forensics(collector: Collector) -> None:
    if collector not in _collectors:
        _collectors.append(collector)


def notify(request: RollbackRequest, event: str, message: str) -> None:
    for listener in _listeners:
        listener(request, event, message)


def collected(request: RollbackRequest) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for collector in _collectors:
        context.update(collector(request))
    return context

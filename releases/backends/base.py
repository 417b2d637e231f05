"""The deployment-backend interface: `deploy`, `rollback`, `status`, each with an idempotency key.

A backend makes a deployment change real somewhere else (a webhook receiver, MLflow's
registry, Argo Rollouts, or the local stand-in). It must treat a repeated call with the
same idempotency key as the same call: re-delivered tasks rely on that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from releases.models import Environment, Release


class BackendError(Exception):
    """The backend refused or failed. `transient` errors are worth retrying."""

    def __init__(self, message: str, *, transient: bool = False, response: Any = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.response = response


@dataclass(frozen=True)
class BackendResult:
    accepted: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendStatus:
    """What the backend reports as live (and, during a rollout, the candidate and its share)."""

    live_version: str | None
    candidate_version: str | None = None
    stage: str | None = None
    traffic_percent: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class DeploymentBackend(Protocol):
    # True when `status` only talks to the network (no database, no lazy model access): the
    # rollback worker then reads it on a second thread while it reads its evidence from the
    # database. The local backend keeps its state in the database and leaves this False.
    status_is_remote: bool

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult: ...

    def rollback(
        self, *, from_release: Release | None, to_release: Release, idempotency_key: str
    ) -> BackendResult: ...

    def status(self) -> BackendStatus: ...


class BackendFactory(Protocol):
    def __call__(self, environment: Environment) -> DeploymentBackend: ...

"""The deployment-backend interface: `deploy`, `rollback`, `status`, each with an idempotency key.

A backend makes a deployment change real somewhere else (a webhook receiver, MLflow's
registry, Argo Rollouts, or the local stand-in). It must treat a repeated call with the
same idempotency key as the same call: re-delivered tasks rely on that.

A rollout's controls (`pause`, `resume`, `abort`) reach the backend the same way; where the
platform has nothing to hold (MLflow's alias moves only at general release) they say so in
their answer and change nothing.

A rollback also carries its `RollbackContext`: why (the reason the presser typed, or the
plan's trigger), on whose word, and for which incident. Every backend that keeps a record
on its side writes it there (MLflow tags, Argo annotations, the webhook's body), so the
serving platform's own history says why its model changed. It is a required argument: a
caller cannot forget it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from releases.models import Environment, Release


class BackendError(Exception):
    """The backend refused or failed. `transient` errors are worth retrying; `retry_after`
    is how many seconds the peer asked to wait first (its `Retry-After`), when it said."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        response: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.response = response
        self.retry_after = retry_after


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


@dataclass(frozen=True)
class RollbackContext:
    """Why a rollback happens and on whose word, as the rollback service knows it."""

    reason: str  # as the presser typed it, or as the plan's trigger stated it
    requested_by: str  # "Rob Stone (rob)", or "rollback plan" for a trigger of the plan
    confirmed_by: str | None = None  # who confirmed a proposal of the plan
    incident: str | None = None  # the incident it serves: "INC-42"
    incident_title: str | None = None
    incident_url: str | None = None  # its war room, absolute
    request_id: int | None = None  # Failsafe's rollback record
    drill: bool = False

    def as_payload(self) -> dict[str, Any]:
        """As JSON for a receiver: every field, null where there is nothing to say."""
        return {
            "reason": self.reason,
            "requested_by": self.requested_by,
            "confirmed_by": self.confirmed_by,
            "incident": self.incident,
            "incident_title": self.incident_title,
            "incident_url": self.incident_url,
            "request_id": self.request_id,
            "drill": self.drill,
        }

    @property
    def asked_by(self) -> str:
        """Who asked, in one line: "Rob Stone (rob)", "rollback plan, confirmed by …"."""
        if self.confirmed_by:
            return f"{self.requested_by}, confirmed by {self.confirmed_by}"
        return self.requested_by


class DeploymentBackend(Protocol):
    # True when `status` only talks to the network (no database, no lazy model access): the
    # rollback worker then reads it on a second thread while it reads its evidence from the
    # database. The local backend keeps its state in the database and leaves this False.
    status_is_remote: bool

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult: ...

    def rollback(
        self,
        *,
        from_release: Release | None,
        to_release: Release,
        idempotency_key: str,
        context: RollbackContext,
    ) -> BackendResult: ...

    # A rollout's controls (releases.services.rollout_controls), with the release whose
    # rollout they concern: hold it where it stands, let it go on, or send the candidate's
    # traffic back to the stable release.
    def pause(self, *, release: Release, idempotency_key: str) -> BackendResult: ...

    def resume(self, *, release: Release, idempotency_key: str) -> BackendResult: ...

    def abort(self, *, release: Release, idempotency_key: str, reason: str) -> BackendResult: ...

    def status(self) -> BackendStatus: ...


class BackendFactory(Protocol):
    def __call__(self, environment: Environment) -> DeploymentBackend: ...

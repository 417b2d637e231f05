"""What a backend reports live, read within a bound, and whether it is the recorded release.

The reconcile must answer whatever a backend does: dead (refused), hung (accepts and never
answers) or slow. Each HTTP call is bounded by the backend's timeout, capped at
RECONCILE_STATUS_TIMEOUT_SECONDS; a remote `status` also runs on a thread of its own that
the reconcile stops waiting for after that bound and a half (an answer that trickles in a
byte at a time beats httpx's per-read timeout). Any failure is "unknown", never drift.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from releases.backends import BackendError, BackendStatus, backend_for
from releases.backends.mlflow import MlflowBackend
from releases.models import ComponentKind, Release

if TYPE_CHECKING:
    from releases.backends.base import DeploymentBackend
    from releases.models import Environment

UNTAGGED = re.compile(r"model version (?P<version>[1-9][0-9]{0,18})")


@dataclass(frozen=True)
class Observation:
    """What the backend said: `known` False when it could not be asked (dead, hung, slow,
    misconfigured), with why in `error`."""

    known: bool
    live_version: str | None = None
    model_version: str | None = None  # MLflow: the version the alias points at
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    backend: DeploymentBackend | None = None

    @property
    def label(self) -> str:
        """The observed version as the drift records it: a release version, "model version
        7" (an MLflow version no Failsafe release was tagged on), or "" (nothing live)."""
        if self.live_version:
            return self.live_version
        if self.model_version:
            return f"model version {self.model_version}"
        return ""


def observe(environment: Environment) -> Observation:
    """Ask the environment's backend what is live, within RECONCILE_STATUS_TIMEOUT_SECONDS."""
    bound = float(settings.RECONCILE_STATUS_TIMEOUT_SECONDS)
    try:
        backend = backend_for(environment)
    except BackendError as error:
        return Observation(known=False, error=str(error))
    if isinstance(getattr(backend, "timeout", None), int | float):
        backend.timeout = min(backend.timeout, bound)  # type: ignore[attr-defined]
    try:
        status = (
            _status_within(backend, bound * 1.5) if backend.status_is_remote else backend.status()
        )
    except BackendError as error:
        return Observation(known=False, error=str(error), backend=backend)
    except Exception as error:  # a backend's bug is not a drift either: "unknown", and why
        return Observation(known=False, error=f"{type(error).__name__}: {error}", backend=backend)
    model_version = status.detail.get("model_version") if isinstance(status.detail, dict) else None
    return Observation(
        known=True,
        live_version=status.live_version or None,
        model_version=str(model_version) if model_version is not None else None,
        detail=dict(status.detail or {}),
        backend=backend,
    )


def _status_within(backend: DeploymentBackend, seconds: float) -> BackendStatus:
    answer: list[BackendStatus] = []
    failure: list[BaseException] = []

    def ask() -> None:
        try:
            answer.append(backend.status())
        except BaseException as error:  # handed to the reconcile, which says "unknown"
            failure.append(error)

    # A daemon thread: one left behind by a backend that never answers dies with the process,
    # and its own timeout ends it long before.
    thread = threading.Thread(target=ask, name="drift-status", daemon=True)
    thread.start()
    thread.join(seconds)
    if failure:
        raise failure[0]
    if not answer:
        raise BackendError(f"the backend did not report its status within {seconds:g} s")
    return answer[0]


def matches(observation: Observation, recorded: Release) -> bool:
    """Does the backend report the recorded release? By version; for MLflow, a version that
    carries no Failsafe tag matches when it is the recorded release's model version (an
    adopted version, or one a release shares with the one before it)."""
    if observation.live_version == recorded.version:
        return True
    backend = observation.backend
    untagged = observation.live_version is None and observation.model_version is not None
    if untagged and isinstance(backend, MlflowBackend):
        try:
            return backend.model_version(recorded) == observation.model_version
        except BackendError:
            return False
    return False


def observed_release(environment: Environment, observation: Observation) -> Release | None:
    """The Failsafe release the backend reports, if one matches: by version, else (MLflow, an
    untagged version) the newest release whose model is that registered-model version."""
    system_releases = Release.objects.filter(system_id=environment.system_id)
    if observation.live_version:
        return system_releases.filter(version=observation.live_version).first()
    backend = observation.backend
    if observation.model_version and isinstance(backend, MlflowBackend):
        uri = f"models:/{backend.model_name}/{observation.model_version}"
        return (
            system_releases.filter(
                components__kind=ComponentKind.MODEL, components__uri__in=[uri, uri + "/"]
            )
            .order_by("-created_at", "-id")
            .first()
        )
    return None

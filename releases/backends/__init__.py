"""The registry of deployment backends, chosen per environment by `Environment.backend_type`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from releases.backends.base import (
    BackendError,
    BackendResult,
    BackendStatus,
    DeploymentBackend,
    RollbackContext,
)

if TYPE_CHECKING:
    from releases.backends.base import BackendFactory
    from releases.models import Environment

_registry: dict[str, BackendFactory] = {}


def register(backend_type: str, factory: BackendFactory) -> None:
    _registry[backend_type] = factory


def backend_for(environment: Environment) -> DeploymentBackend:
    try:
        factory = _registry[environment.backend_type]
    except KeyError:
        raise BackendError(f"no deployment backend of type {environment.backend_type!r}") from None
    return factory(environment)


__all__ = [
    "BackendError",
    "BackendResult",
    "BackendStatus",
    "DeploymentBackend",
    "RollbackContext",
    "backend_for",
    "register",
]

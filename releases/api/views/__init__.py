"""The releases API's views, by resource: releases (and the gate policy), environments,
rollback requests. Reads through queries, every change through releases.services."""

from releases.api.views.environments import (
    EnvironmentFilter,
    EnvironmentViewSet,
)
from releases.api.views.releases import (
    GatePolicyViewSet,
    ReleaseFilter,
    ReleaseViewSet,
)
from releases.api.views.rollbacks import (
    RollbackRequestFilter,
    RollbackRequestViewSet,
)

__all__ = [
    "EnvironmentFilter",
    "EnvironmentViewSet",
    "GatePolicyViewSet",
    "ReleaseFilter",
    "ReleaseViewSet",
    "RollbackRequestFilter",
    "RollbackRequestViewSet",
]

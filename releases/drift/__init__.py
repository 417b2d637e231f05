"""Drift detection, the ungoverned-change guard: the reconcile (reconcile.py) asks every
environment's backend what is live (observe.py) and records a difference no Failsafe
deployment or rollback explains as a `Drift`; the incidents app's hook (hooks.py) declares
the incident, notices.py tells the owners and on-call leads; adopt.py is the one way the
observed release enters the record."""

from releases.drift.adopt import adopt_drift
from releases.drift.reconcile import (
    open_drift,
    reconcile_environment,
    reconcile_environments,
    schedule_reconcile,
)

__all__ = [
    "adopt_drift",
    "open_drift",
    "reconcile_environment",
    "reconcile_environments",
    "schedule_reconcile",
]

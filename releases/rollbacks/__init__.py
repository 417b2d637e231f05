"""ROLL BACK NOW: one transaction records the request, then a Celery task makes it real.

The life of a request: proposed (by a trigger, waiting for a rollback owner) → requested →
running (a task holds a lease on it) → succeeded (the backend reports the target live) or
failed. At most one request is active per environment; pressing again returns it. Every
backend call carries the request's idempotency key, so a re-delivered or swept task that
calls again changes nothing twice. Nothing is lost: `sweep_rollbacks` re-sends requests
nobody picked up (the broker was down) and takes over runs whose worker died.

The modules, in the order a rollback meets them:

- target: which release a rollback goes to (reads, shared with the pages);
- press: request, confirm and dismiss (what views, the API and tasks call);
- broker: the request handed to the broker after commit (tests hold rollbacks back by
  patching `broker.enqueue`, where the press and the sweep look it up);
- worker: the task's body: claim, forensic record, backend call, verify;
- leases: the run's lease, renewed while it works and held between retries;
- outcome: verified or failed, and what changes with it;
- sweep: re-sending what nobody is working on;
- records: the helpers the press and the worker share.
"""

from releases.rollbacks.leases import hold_for_retry
from releases.rollbacks.outcome import fail_rollback
from releases.rollbacks.press import confirm_rollback, dismiss_rollback, request_rollback
from releases.rollbacks.sweep import sweep_rollbacks
from releases.rollbacks.target import (
    RollbackChoice,
    live_deployment,
    rollback_choice,
    rollback_target,
)
from releases.rollbacks.worker import rollback_context, run_rollback

__all__ = [
    "RollbackChoice",
    "confirm_rollback",
    "dismiss_rollback",
    "fail_rollback",
    "hold_for_retry",
    "live_deployment",
    "request_rollback",
    "rollback_choice",
    "rollback_context",
    "rollback_target",
    "run_rollback",
    "sweep_rollbacks",
]

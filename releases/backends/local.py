"""The local backend: the embedded default's stand-in for a serving platform.

It keeps what is "deployed" in its own table and answers like a remote backend would:
with latency (`backend_config["latency_ms"]`), a status, and idempotent calls.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from releases.backends.base import BackendResult, BackendStatus, RollbackContext
from releases.models import LocalDeploymentState, RolloutStage

if TYPE_CHECKING:
    from releases.models import Environment, Release

APPLIED_KEYS_KEPT = 200


class LocalBackend:
    status_is_remote = False  # its state is a row in this database

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.latency = float(environment.backend_config.get("latency_ms", 0)) / 1000

    def _apply(self, key: str, **changes: object) -> BackendResult:
        time.sleep(self.latency)  # a real platform takes a moment too
        with transaction.atomic():
            state, _ = LocalDeploymentState.objects.select_for_update(
                no_key=True, of=("self",)
            ).get_or_create(environment=self.environment)
            if key in state.applied_keys:
                return BackendResult(accepted=True, detail={"replayed": True})
            for name, value in changes.items():
                setattr(state, name, value)
            state.applied_keys = [*state.applied_keys[-APPLIED_KEYS_KEPT + 1 :], key]
            state.updated_at = timezone.now()
            state.save()
        return BackendResult(accepted=True, detail={"replayed": False})

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult:
        if stage == RolloutStage.GENERAL_RELEASE:
            return self._apply(
                idempotency_key, live_version=release.version, candidate_version="", stage=stage,
                traffic_percent=100,
            )  # fmt: skip
        return self._apply(
            idempotency_key, candidate_version=release.version, stage=stage,
            traffic_percent=traffic_percent,
        )  # fmt: skip

    def rollback(
        self,
        *,
        from_release: Release | None,
        to_release: Release,
        idempotency_key: str,
        context: RollbackContext,
    ) -> BackendResult:
        # The context is Failsafe's own record already (the request, its timeline, the audit
        # trail): the stand-in keeps only what is deployed.
        return self._apply(
            idempotency_key, live_version=to_release.version, candidate_version="",
            stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        )  # fmt: skip

    def pause(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._apply(idempotency_key, paused=True)

    def resume(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._apply(idempotency_key, paused=False)

    def abort(self, *, release: Release, idempotency_key: str, reason: str) -> BackendResult:
        # The candidate's traffic goes back to the live release; the live one stays.
        return self._apply(
            idempotency_key, candidate_version="", stage="", traffic_percent=0, paused=False
        )

    def status(self) -> BackendStatus:
        state = LocalDeploymentState.objects.filter(environment=self.environment).first()
        if state is None:
            return BackendStatus(live_version=None)
        return BackendStatus(
            live_version=state.live_version or None,
            candidate_version=state.candidate_version or None,
            stage=state.stage or None,
            traffic_percent=float(state.traffic_percent),
            detail={"paused": state.paused},
        )

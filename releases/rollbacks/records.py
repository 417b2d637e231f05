"""Small helpers the press and the worker share: a request read under its row lock, what
goes to the audit trail, and one step recorded in the audit trail and on the timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from governance import audit
from releases import rollback_hooks
from releases.models import RollbackRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User


_LOADED = ("environment__system", "from_release", "to_release")


def locked_request(request_id: int) -> RollbackRequest:
    return (
        RollbackRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*_LOADED)
        .get(pk=request_id)
    )


def request_state(request: RollbackRequest) -> dict[str, Any]:
    return {
        "environment": request.environment.slug,
        "from_release": request.from_release.version if request.from_release else None,
        "to_release": request.to_release.version,
        "status": request.status,
        "reason": request.reason,
        "idempotency_key": request.idempotency_key,
        "drill": request.is_drill,
        "trigger": request.trigger,
    }


def record_step(
    request: RollbackRequest, actor: User | None, action: str, event: str, message: str
) -> None:
    audit.record_event(
        actor=actor,
        action=action,
        obj=request,
        system=request.environment.system,
        after={"status": request.status, "attempts": request.attempts, "error": request.error},
    )
    rollback_hooks.notify(request, event, message)

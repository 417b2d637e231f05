"""Staged rollout: a promotion (or a pause, resume or abort of the rollout) is recorded as a
step, then made real by the backend in a Celery task."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config import handoff
from governance import audit, permissions
from governance.limits import ERROR, NOTE, shorten
from governance.permissions import can, require
from governance.roles import Action
from releases.backends import BackendError, backend_for
from releases.models import (
    Deployment,
    Environment,
    Release,
    ReleaseStatus,
    RolloutStage,
    RolloutStep,
    StepAction,
    StepStatus,
)
from releases.services import analysis as analyses
from releases.services.deploy_gate import Verdict, deployment_verdict
from releases.tasks import apply_rollout_step as apply_rollout_step_task

# Who may pass over a stage or cut a soak short (with a reason): who may approve the
# system's releases, the release managers, since it waives a rule of the release's gate.
SKIP_ROLLOUT_STAGE = Action.APPROVE_RELEASE

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def promote_release(
    *,
    actor: User,
    release: Release,
    environment: Environment,
    stage: str,
    traffic_percent: Decimal | float | int,
    analysis: dict[str, Any] | None = None,
    skip_reason: str = "",
) -> RolloutStep:
    """Ask for the release to move to `stage` in `environment`; the backend applies it later.

    `analysis` (query, success_condition, interval_seconds, count, failure_limit,
    inconclusive_limit) is measured once the step is applied (releases.services.analysis);
    a running analysis of an earlier stage stops: the rollout moved on.

    `skip_reason`: a person who may approve the system's releases passes over a stage or
    cuts a soak short (the gate's waivable refusals) by saying why; the step keeps what it
    waived and why."""
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    require(actor, Action.PROMOTE_RELEASE, release.system)
    if stage not in RolloutStage.values:
        raise ValidationError({"stage": f"Unknown stage {stage!r}."})
    traffic = Decimal(str(traffic_percent))
    if stage == RolloutStage.GENERAL_RELEASE:
        traffic = Decimal(100)
    elif not Decimal(0) <= traffic <= Decimal(100):
        raise ValidationError({"traffic_percent": "The traffic share is between 0 and 100 %."})
    skip_reason = skip_reason.strip()
    if len(skip_reason) > NOTE:
        raise ValidationError({"skip_reason": f"At most {NOTE} characters."})
    verdict = deployment_verdict(release=release, environment=environment, stage=stage)
    waived = _waived(actor, release, verdict, skip_reason)
    cleaned = analyses.clean_analysis(analysis)

    analyses.cancel_analyses(
        release=release, environment_id=environment.pk, now=timezone.now(),
        why=f"The rollout moved on to {RolloutStage(stage).label.lower()} before it concluded.",
    )  # fmt: skip
    step = RolloutStep.objects.create(
        release=release, environment=environment, stage=stage, traffic_percent=traffic,
        requested_by=actor, enqueued_at=timezone.now(), reason=skip_reason if waived else "",
        waived=waived,
    )  # fmt: skip
    if cleaned is not None:
        analyses.attach_analysis(step=step, analysis=cleaned)
    audit.record_event(
        actor=actor, action="rollout.requested", obj=step, system=release.system,
        after={"release": release.version, "environment": environment.slug, "stage": stage,
               "traffic_percent": str(traffic), "idempotency_key": str(step.idempotency_key),
               **({"analysis": cleaned} if cleaned else {}),
               **({"waived": waived, "skip_reason": skip_reason} if waived else {})},
    )  # fmt: skip
    transaction.on_commit(lambda: send_step(step.pk))
    return step


def _waived(actor: User, release: Release, verdict: Verdict, reason: str) -> list[str]:
    """What the promotion waives (nothing if the gate allows it); raises when it may not."""
    if verdict.allowed:
        return []
    if not verdict.waivable:
        raise refused(verdict)
    if not can(actor, SKIP_ROLLOUT_STAGE, release.system):
        error = refused(verdict)
        if reason:  # they asked to skip: say who may
            extra = "Skipping a stage or a soak: " + permissions.refusal(
                SKIP_ROLLOUT_STAGE, release.system
            )
            raise ValidationError({"skip_reason": [extra], **error.message_dict})
        raise error
    if not reason:
        raise ValidationError(
            {
                "skip_reason": ["Say why the rollout skips ahead, or follow the stages."],
                **refused(verdict).message_dict,
            }
        )
    return [r.message for r in verdict.refusals]


def refused(verdict: Verdict) -> ValidationError:
    """The gate's reasons as the error a form or the API shows: each on its field, if it has
    one, the rest on the whole."""
    by_field: dict[str, list[str]] = {}
    for refusal in verdict.refusals:
        by_field.setdefault(refusal.field or NON_FIELD_ERRORS, []).append(refusal.message)
    if list(by_field) == [NON_FIELD_ERRORS]:
        return ValidationError(by_field[NON_FIELD_ERRORS])
    return ValidationError(by_field)


def send_step(step_id: int) -> None:
    """Hand the step to the broker from this process's sending thread (config.handoff):
    the promotion answers whatever the broker does."""
    handoff.send(apply_rollout_step_task, (step_id,), label=f"rollout step {step_id}")


def sweep_rollout_steps() -> int:
    """Beat: send again the steps still pending `ROLLOUT_REQUEUE_SECONDS` after they were
    last sent (the broker was down when they were asked for, or the process holding them
    died); fail those pending past `ROLLOUT_PATIENCE_SECONDS`, so that a step nobody could
    apply stops holding its environment. Applying is idempotent (the step's status, the
    backend's idempotency key): a step sent twice is applied once. Returns how many."""
    now = timezone.now()
    pending = RolloutStep.objects.filter(status=StepStatus.PENDING)
    given_up = list(
        pending.filter(requested_at__lt=now - timedelta(seconds=settings.ROLLOUT_PATIENCE_SECONDS))
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    waited = settings.ROLLOUT_PATIENCE_SECONDS // 60
    for step_id in given_up:
        fail_rollout_step(
            step_id=step_id,
            error=f"Never applied: no worker took the step within {waited} minutes. "
            "Promote again to retry.",
        )
    stale = now - timedelta(seconds=settings.ROLLOUT_REQUEUE_SECONDS)
    resend = list(
        pending.exclude(pk__in=given_up)
        .filter(Q(enqueued_at__lt=stale) | Q(enqueued_at__isnull=True, requested_at__lt=stale))
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    # Stamped before they are handed over: the next sweeps leave them a requeue period.
    RolloutStep.objects.filter(pk__in=resend).update(enqueued_at=now)
    for step_id in resend:
        send_step(step_id)
    return len(given_up) + len(resend)


def apply_rollout_step(*, step_id: int) -> RolloutStep:
    """Make a requested step real through the backend, then record the outcome. Idempotent."""
    step = RolloutStep.objects.select_related("release", "environment", "release__system").get(
        pk=step_id
    )
    if step.status != StepStatus.PENDING:
        return step  # already applied or failed: a re-delivered task does nothing
    try:
        backend, key = backend_for(step.environment), str(step.idempotency_key)
        if step.action == StepAction.PAUSE:
            result = backend.pause(release=step.release, idempotency_key=key)
        elif step.action == StepAction.RESUME:
            result = backend.resume(release=step.release, idempotency_key=key)
        elif step.action == StepAction.ABORT:
            result = backend.abort(release=step.release, idempotency_key=key, reason=step.reason)
        else:
            result = backend.deploy(
                release=step.release, stage=step.stage,
                traffic_percent=float(step.traffic_percent), idempotency_key=key,
            )  # fmt: skip
    except BackendError as error:
        if error.transient:
            raise  # the task retries with backoff
        return _finish(step_id, error=str(error))
    return _finish(step_id, response=result.detail)


def fail_rollout_step(*, step_id: int, error: str) -> RolloutStep:
    """Record that the backend never applied the step (retries exhausted)."""
    return _finish(step_id, error=error)


@transaction.atomic
def _finish(step_id: int, *, response: dict | None = None, error: str = "") -> RolloutStep:
    # Lock the step so a concurrent re-delivery cannot record the outcome twice.
    step = (
        RolloutStep.objects.select_for_update(no_key=True, of=("self",))
        .select_related("release", "environment", "release__system")
        .get(pk=step_id)
    )
    if step.status != StepStatus.PENDING:
        return step
    release, environment, now = step.release, step.environment, timezone.now()
    step.applied_at = now
    if step.is_control:  # Failsafe's own hold or abort stood already; this is the backend's
        step.status = StepStatus.FAILED if error else StepStatus.APPLIED
        step.error, step.backend_response = shorten(error, ERROR), response or {}
        step.save(update_fields=["status", "error", "backend_response", "applied_at"])
        audit.record_event(
            actor=None, action=f"rollout.{step.action}_{'failed' if error else 'applied'}",
            obj=step, system=release.system,
            after={"environment": environment.slug, **({"error": error} if error else {})},
        )  # fmt: skip
        return step
    if error:
        step.status, step.error = StepStatus.FAILED, shorten(error, ERROR)
        step.save(update_fields=["status", "error", "applied_at"])
        analyses.cancel_analyses(
            release=release, environment_id=environment.pk, step=step, now=now,
            why="The step was never applied, so there was nothing to measure.",
        )  # fmt: skip
        audit.record_event(
            actor=None, action="rollout.failed", obj=step, system=release.system,
            after={"error": error},
        )  # fmt: skip
        return step

    step.status, step.backend_response = StepStatus.APPLIED, response or {}
    step.save(update_fields=["status", "backend_response", "applied_at"])
    analyses.start_analysis(step=step, now=now)
    release = Release.objects.select_for_update(no_key=True, of=("self",)).get(pk=release.pk)
    before = release.status
    if step.stage == RolloutStage.GENERAL_RELEASE:
        _go_live(step, release, now)
    elif release.status == ReleaseStatus.APPROVED:
        release.status = ReleaseStatus.ROLLING_OUT
        release.save(update_fields=["status"])
    audit.record_event(
        actor=None, action="rollout.applied", obj=step, system=release.system,
        before={"status": before},
        after={"status": release.status, "stage": step.stage, "environment": environment.slug,
               "traffic_percent": str(step.traffic_percent)},
    )  # fmt: skip
    return step


def _go_live(step: RolloutStep, release: Release, now) -> None:  # type: ignore[no-untyped-def]
    """Close the environment's open deployment period and open this release's."""
    environment = Environment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=step.environment_id
    )
    previous = Deployment.objects.filter(environment=environment, ended_at__isnull=True).first()
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
        still_live = Deployment.objects.filter(release=previous.release, ended_at__isnull=True)
        if previous.release_id != release.pk and not still_live.exists():
            Release.objects.filter(pk=previous.release_id).update(status=ReleaseStatus.SUPERSEDED)
    Deployment.objects.create(
        environment=environment, release=release, started_at=now, via="rollout", step=step
    )
    release.status = ReleaseStatus.LIVE
    release.save(update_fields=["status"])

"""Celery tasks of releases: thin, idempotent, retried with backoff."""

from __future__ import annotations

from celery import shared_task

from config import handoff
from releases.backends import BackendError
from releases.retry import retry_countdown

RETRY_AFTER_MOST = 60.0  # a peer asking for longer is retried after this (and asked again)


def _countdown(error: BackendError, factor: float, retries: int) -> float:
    """Exponential backoff with full jitter, never sooner than the backend's Retry-After."""
    return retry_countdown(
        retries=retries, factor=factor, most=RETRY_AFTER_MOST, asked=error.retry_after
    )


@shared_task(bind=True, name="releases.tasks.apply_rollout_step", max_retries=5)
def apply_rollout_step(self, step_id: int) -> str:  # type: ignore[no-untyped-def]
    """Apply a rollout step through its backend; transient errors retry, the last one fails it."""
    from releases.services import apply_rollout_step as apply
    from releases.services import fail_rollout_step

    try:
        return apply(step_id=step_id).status
    except BackendError as error:
        if self.request.retries >= self.max_retries:
            return fail_rollout_step(step_id=step_id, error=str(error)).status
        countdown = _countdown(error, 1, self.request.retries)
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task(bind=True, name="releases.tasks.execute_rollback", acks_late=True)
def execute_rollback(self, request_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run a rollback request. Transient backend errors retry with exponential backoff and
    full jitter (never sooner than the backend's Retry-After) up to ROLLBACK_MAX_RETRIES; a
    permanent error or the last retry fails it.
    Late acknowledgement: a worker lost mid-call gives the message back, and the request's
    idempotency key makes the second call a no-op at the backend."""
    from django.conf import settings

    from releases import rollbacks
    from releases.models import RollbackRequest

    try:
        return rollbacks.run_rollback(request_id=request_id).status
    except RollbackRequest.DoesNotExist:
        return "missing"  # a message older than its database (tests, restores): nothing to do
    except BackendError as error:
        retries = self.request.retries
        if not error.transient or retries >= settings.ROLLBACK_MAX_RETRIES:
            return rollbacks.fail_rollback(
                request_id=request_id, error=str(error), response=error.response
            ).status
        countdown = _countdown(error, settings.ROLLBACK_BACKOFF_SECONDS, retries)
        rollbacks.hold_for_retry(request_id=request_id, seconds=countdown, error=str(error))
        raise self.retry(exc=error, countdown=countdown, max_retries=None) from error


@shared_task(name="releases.tasks.sweep_rollbacks", ignore_result=True)
def sweep_rollbacks() -> int:
    """Beat: re-send rollback requests that nobody picked up or whose worker died."""
    from releases import rollbacks

    return rollbacks.sweep_rollbacks()


@shared_task(name="releases.tasks.sweep_rollout_steps", ignore_result=True)
def sweep_rollout_steps() -> int:
    """Beat: rollout steps nobody applied, sent again or, past patience, failed."""
    from releases.services import sweep_rollout_steps as sweep

    return sweep()


@shared_task(name="releases.tasks.sweep_imports", ignore_result=True)
def sweep_imports() -> int:
    """Beat: model-version imports that nobody ran, sent again (services.intake.sweep_imports)."""
    from releases.services import intake

    return intake.sweep_imports()


@shared_task(name="releases.tasks.reconcile_environments", ignore_result=True)
def reconcile_environments() -> int:
    """Beat (RECONCILE_SECONDS): one reconcile task per environment."""
    from releases import drift

    return drift.reconcile_environments()


# Bounded however the backend behaves: its status read is capped (observe.py); the hard
# limit only catches what nothing else did.
@shared_task(name="releases.tasks.reconcile_environment", ignore_result=True, time_limit=120)
def reconcile_environment(environment_id: int) -> str:
    """Compare one environment's backend with the deployment record (releases/drift/)."""
    from releases import drift

    return drift.reconcile_environment(environment_id=environment_id)


IMPORT_MAX_RETRIES = 8  # with backoff from 2 s, capped at a minute: about five minutes


@shared_task(bind=True, name="releases.tasks.import_model_version", acks_late=True)
def import_model_version(self, registry_version_id: int) -> str:  # type: ignore[no-untyped-def]
    """Import a followed model's new version from MLflow as a draft release (the webhook
    scheduled it on commit). MLflow's transient failures retry with backoff and full jitter,
    never sooner than its Retry-After; a permanent one, or the last retry, marks the import
    failed with why. Idempotent: an imported version is never imported twice, so a
    redelivered or repeated task changes nothing."""
    from releases.models import RegistryVersion
    from releases.services import intake

    try:
        return intake.import_model_version(registry_version_id=registry_version_id).status
    except RegistryVersion.DoesNotExist:
        return "missing"
    except BackendError as error:
        retries = self.request.retries
        if not error.transient or retries >= IMPORT_MAX_RETRIES:
            return intake.fail_import(
                registry_version_id=registry_version_id, error=str(error)
            ).status
        countdown = _countdown(error, 2, retries)
        raise self.retry(exc=error, countdown=countdown, max_retries=None) from error


# Metric analysis: beat claims what is due and sends one task per trigger or analysis, so a
# hung Prometheus holds up only its own question (each is bounded: PROMETHEUS_TIMEOUT_SECONDS).
FAN_OUT_EXPIRES = 60  # a question not asked by then is asked afresh by a later beat


@shared_task(name="releases.tasks.evaluate_promql_triggers", ignore_result=True)
def evaluate_promql_triggers() -> int:
    """Beat: one evaluation task per PromQL trigger in force."""
    from releases.services.promql_triggers import triggers_in_force

    ids = triggers_in_force()
    for trigger_id in ids:
        handoff.send(
            evaluate_promql_trigger,
            (trigger_id,),
            label=f"PromQL trigger {trigger_id}",
            expires=FAN_OUT_EXPIRES,
        )
    return len(ids)


@shared_task(name="releases.tasks.evaluate_promql_trigger", ignore_result=True)
def evaluate_promql_trigger(trigger_id: int) -> str:
    from releases.services.promql_triggers import evaluate_promql_trigger as evaluate

    return evaluate(trigger_id=trigger_id)


@shared_task(name="releases.tasks.take_due_measurements", ignore_result=True)
def take_due_measurements() -> int:
    """Beat: claim the analyses whose measurement is due, one measurement task each; and
    advance the rollouts whose passed analysis waited for its stage to soak."""
    from releases.services.analysis import advance_soaked, due_analyses

    advance_soaked()
    ids = due_analyses()
    for analysis_id in ids:
        handoff.send(
            take_measurement,
            (analysis_id,),
            label=f"measurement of analysis {analysis_id}",
            expires=FAN_OUT_EXPIRES,
        )
    return len(ids)


@shared_task(name="releases.tasks.take_measurement", ignore_result=True)
def take_measurement(analysis_id: int) -> str:
    from releases.services.analysis import take_measurement as take

    measurement = take(analysis_id=analysis_id)
    return measurement.phase if measurement is not None else "not running"


# Celery autodiscovers only `tasks` modules: this import registers the notification tasks.
from releases import notification_tasks  # noqa: E402, F401

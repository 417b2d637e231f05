"""A rollout stage's analysis (after Argo Rollouts' AnalysisTemplate): written with the
promotion, started when the step is applied, measured by beat, concluded and acted on.

- **Measured.** Beat (`take_due_measurements`, every ANALYSIS_TICK_SECONDS) claims the
  analyses whose next measurement is due and sends one task each; a task asks the
  environment's Prometheus once (bounded: releases.analysis.prometheus) and records a
  measurement: passed or failed by the success condition, *no data* (Prometheus dead, hung,
  slow, an empty answer or NaN: inconclusive, never a pass) or *error* (Prometheus refused
  the query, e.g. invalid PromQL).
- **Concluded** as Argo does: failed once more than `failure_limit` measurements failed;
  error once more than CONSECUTIVE_ERROR_LIMIT (Argo's default, 4) in a row were errors;
  inconclusive once more than `inconclusive_limit` had no data; passed when `count`
  measurements with data or without (errors are not counted) were taken and at least one
  passed. The conclusion is audited with every measurement.
- **Acted on.** Passed: when the release's rollback plan says `advance_on_analysis`, the
  next stage is requested with the same analysis. Failed or error: the rollout is aborted:
  a release live in the environment is rolled back as the plan's mode says (the plan's one
  answer to a trigger: releases.rollbacks.plan_triggers); a candidate not yet live has its
  traffic withdrawn (a step to 0 %), and the release goes no further there. Inconclusive:
  the rollout holds; a person decides.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from governance import audit
from governance.limits import ERROR, NAME, QUERY, shorten
from releases.analysis import prometheus
from releases.analysis.condition import parse_condition
from releases.models import (
    AnalysisStatus,
    GatePolicy,
    Measurement,
    MeasurementPhase,
    Release,
    RollbackPlan,
    RolloutStage,
    RolloutStep,
    StageAnalysis,
)
from releases.queries import live_release
from releases.rollbacks.plan_triggers import act_on_held_trigger

CONSECUTIVE_ERROR_LIMIT = 4  # Argo Rollouts' default consecutiveErrorLimit
MAX_COUNT = 100
MAX_INTERVAL_SECONDS = 3600
DUE_AT_ONCE = 100  # analyses one beat tick claims
# The traffic share a stage reached by passing analysis gets, unless the one before had more.
STAGE_TRAFFIC = {
    RolloutStage.OFFLINE_VALIDATION: Decimal(0),
    RolloutStage.INTERNAL_TESTING: Decimal(1),
    RolloutStage.SHADOW: Decimal(5),
    RolloutStage.SEGMENT_MONITORING: Decimal(25),
    RolloutStage.GENERAL_RELEASE: Decimal(100),
}
TEMPLATE_FIELDS = (
    "query",
    "success_condition",
    "interval_seconds",
    "count",
    "failure_limit",
    "inconclusive_limit",
)


def clean_analysis(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """A promotion's analysis as written, checked: None for none; else the fields to store.
    Refuses (ValidationError under `analysis`) what cannot be measured or judged."""
    if not analysis or not str(analysis.get("query") or "").strip():
        return None
    errors: list[str] = []
    query = str(analysis.get("query")).strip()
    condition = str(analysis.get("success_condition") or "").strip()
    if len(query) > QUERY:
        errors.append(f"The PromQL query is at most {QUERY} characters.")
    if "\x00" in query or "\x00" in condition:
        errors.append("No NUL characters.")
    if len(condition) > NAME:
        errors.append(f"The success condition is at most {NAME} characters.")
    else:
        try:
            parse_condition(condition)
        except ValidationError as error:
            errors.append(f"Success condition: {' '.join(error.messages)}")
    numbers: dict[str, int] = {}
    for name, default in (("interval_seconds", 60), ("count", 5), ("failure_limit", 0),
                          ("inconclusive_limit", 0)):  # fmt: skip
        value = analysis.get(name, default)
        if value in (None, ""):
            value = default
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{name} must be a whole number.")
            continue
        try:
            numbers[name] = int(value)
        except ValueError:
            errors.append(f"{name} must be a whole number.")
    if len(numbers) == 4:
        if not 1 <= numbers["interval_seconds"] <= MAX_INTERVAL_SECONDS:
            errors.append(f"The interval is between 1 second and {MAX_INTERVAL_SECONDS} seconds.")
        if not 1 <= numbers["count"] <= MAX_COUNT:
            errors.append(f"The count is between 1 and {MAX_COUNT} measurements.")
        for limit in ("failure_limit", "inconclusive_limit"):
            if not 0 <= numbers[limit] < max(numbers["count"], 1):
                errors.append(
                    f"The {limit.replace('_', ' ')} is at least 0 and below the count: an "
                    "analysis that tolerates every measurement failing, or having no data, "
                    "proves nothing."
                )
    if errors:
        raise ValidationError({"analysis": errors})
    return {"query": query, "success_condition": condition, **numbers}


def attach_analysis(*, step: RolloutStep, analysis: dict[str, Any]) -> StageAnalysis:
    """Store a cleaned analysis with the step it will measure (the caller's transaction and
    audit event: the promotion's)."""
    return StageAnalysis.objects.create(step=step, **analysis)


def start_analysis(*, step: RolloutStep, now: datetime) -> None:
    """The step is applied: its analysis, if any, is due at once (the caller's transaction
    and audit event: the step's)."""
    StageAnalysis.objects.filter(step=step, status=AnalysisStatus.RUNNING).update(
        started_at=now, next_measurement_at=now
    )


def cancel_analyses(
    *,
    release: Release,
    environment_id: int,
    why: str,
    now: datetime,
    step: RolloutStep | None = None,
) -> int:
    """Stop the running analyses of the release's steps in the environment (or of `step`
    only): the step failed, or the rollout moved on. The caller's transaction and event."""
    running = StageAnalysis.objects.filter(
        step__release=release, step__environment_id=environment_id, status=AnalysisStatus.RUNNING
    )
    if step is not None:
        running = running.filter(step=step)
    return running.update(
        status=AnalysisStatus.CANCELLED,
        next_measurement_at=None,
        concluded_at=now,
        conclusion=shorten(why, ERROR),
    )


@transaction.atomic
def due_analyses(now: datetime | None = None) -> list[int]:
    """Claim the analyses whose measurement is due: each is moved on by its interval in the
    same statement that picks it, so two beats (or a slow worker) never measure twice."""
    now = now or timezone.now()
    # SKIP LOCKED: a claim in flight elsewhere is that claimer's.
    due = list(
        StageAnalysis.objects.select_for_update(skip_locked=True)
        .filter(status=AnalysisStatus.RUNNING, next_measurement_at__lte=now)
        .order_by("next_measurement_at")
        .values_list("id", flat=True)[:DUE_AT_ONCE]
    )
    StageAnalysis.objects.filter(pk__in=due).update(
        next_measurement_at=now + F("interval_seconds") * timedelta(seconds=1)
    )
    return due


def take_measurement(*, analysis_id: int, now: datetime | None = None) -> Measurement | None:
    """Ask Prometheus once for a running analysis and record the measurement; conclude and
    act when it decides the analysis. None when the analysis is not running."""
    analysis = (
        StageAnalysis.objects.select_related("step__environment").filter(pk=analysis_id).first()
    )
    if analysis is None or not analysis.is_running or analysis.started_at is None:
        return None
    # The question goes out with no transaction open: a hung Prometheus holds no lock.
    reading = prometheus.read(analysis.step.environment, analysis.query)
    return _record(analysis_id, reading, now or timezone.now())


def judge(analysis: StageAnalysis, reading: prometheus.Reading) -> str:
    """A reading's measurement phase under the analysis's success condition."""
    if reading.kind == prometheus.NO_DATA:
        return MeasurementPhase.INCONCLUSIVE
    if reading.kind == prometheus.ERROR or reading.value is None:
        return MeasurementPhase.ERROR
    holds = parse_condition(analysis.success_condition).holds(reading.value)
    return MeasurementPhase.SUCCESSFUL if holds else MeasurementPhase.FAILED


@transaction.atomic
def _record(analysis_id: int, reading: prometheus.Reading, now: datetime) -> Measurement | None:
    # Locked: a measurement recorded after the conclusion would not count.
    analysis = (
        StageAnalysis.objects.select_for_update(no_key=True, of=("self",))
        .select_related("step__environment__system", "step__release__system")
        .get(pk=analysis_id)
    )
    if not analysis.is_running:
        return None
    measurement = Measurement.objects.create(
        analysis=analysis, taken_at=now, phase=judge(analysis, reading), value=reading.raw,
        message=shorten(reading.message, ERROR), duration_ms=reading.duration_ms,
    )  # fmt: skip
    phases = list(analysis.measurements.order_by("taken_at", "id").values_list("phase", flat=True))
    status, why = assess(analysis, phases)
    if status != AnalysisStatus.RUNNING:
        _conclude(analysis, status, why, now)
    return measurement


def assess(analysis: StageAnalysis, phases: list[str]) -> tuple[str, str]:
    """Where the analysis stands after these measurements (oldest first), and why."""
    seen = Counter(phases)
    failed, no_data = seen[MeasurementPhase.FAILED], seen[MeasurementPhase.INCONCLUSIVE]
    passed = seen[MeasurementPhase.SUCCESSFUL]
    counted = failed + no_data + passed  # errors are retried, not counted
    in_a_row = 0
    for phase in reversed(phases):
        if phase != MeasurementPhase.ERROR:
            break
        in_a_row += 1
    condition = analysis.success_condition
    if failed > analysis.failure_limit:
        return AnalysisStatus.FAILED, (
            f"{failed} of {counted} measurements failed “{condition}” (at most "
            f"{analysis.failure_limit} may)."
        )
    if in_a_row > CONSECUTIVE_ERROR_LIMIT:
        return AnalysisStatus.ERROR, (
            f"Prometheus refused the query {in_a_row} times in a row (at most "
            f"{CONSECUTIVE_ERROR_LIMIT} may)."
        )
    if no_data > analysis.inconclusive_limit:
        return AnalysisStatus.INCONCLUSIVE, (
            f"{no_data} of {counted} measurements had no data (at most "
            f"{analysis.inconclusive_limit} may): the rollout holds until someone decides."
        )
    if counted >= analysis.count and passed:
        return AnalysisStatus.SUCCESSFUL, (
            f"{passed} of {counted} measurements passed “{condition}”."
        )
    return AnalysisStatus.RUNNING, ""


def _conclude(analysis: StageAnalysis, status: str, why: str, now: datetime) -> None:
    step = analysis.step
    analysis.status, analysis.concluded_at = status, now
    analysis.next_measurement_at, analysis.conclusion = None, shorten(why, ERROR)
    analysis.save(update_fields=["status", "concluded_at", "next_measurement_at", "conclusion"])
    plan = RollbackPlan.objects.filter(release=step.release).first()
    outcome: dict[str, Any] = {}
    if status == AnalysisStatus.SUCCESSFUL:
        outcome = _advance(step, analysis, plan)
    elif status in (AnalysisStatus.FAILED, AnalysisStatus.ERROR):
        outcome = _abort(step, analysis, plan, now)
    audit.record_event(
        actor=None,
        action="analysis.concluded",
        obj=analysis,
        system=step.release.system,
        after={
            "status": status,
            "conclusion": analysis.conclusion,
            "release": step.release.version,
            "environment": step.environment.slug,
            "stage": step.stage,
            "query": analysis.query,
            "success_condition": analysis.success_condition,
            "measurements": [
                {"at": m.taken_at.isoformat(), "phase": m.phase, "value": m.value}
                for m in analysis.measurements.order_by("taken_at", "id")
            ],
            **outcome,
        },
    )


def _advance(step: RolloutStep, analysis: StageAnalysis, plan: RollbackPlan | None) -> dict:
    """Request the next stage, with the same analysis, if the plan says so and nobody has
    moved the rollout on meanwhile."""
    if plan is None or not plan.advance_on_analysis:
        return {"advanced": False, "why": "the rollback plan does not advance on analysis"}
    stages = list(RolloutStage.values)
    if step.stage == stages[-1]:
        return {"advanced": False, "why": "general release is the last stage"}
    later = RolloutStep.objects.filter(
        release=step.release, environment=step.environment, requested_at__gt=step.requested_at
    )
    if later.exists():
        return {"advanced": False, "why": "the rollout moved on meanwhile"}
    from releases.services.deploy_gate import deployment_verdict
    from releases.services.rollouts import send_step

    release = Release.objects.select_related("system").get(pk=step.release_id)
    stage = stages[stages.index(step.stage) + 1]
    # The deployment gate decides as for a person's promotion: a freeze, a rollback under
    # way or a withdrawn approval holds the rollout where it is.
    verdict = deployment_verdict(release=release, environment=step.environment, stage=stage)
    if not verdict.allowed:
        why = "; ".join(refusal.message for refusal in verdict.refusals)
        refused = [r.code for r in verdict.refusals]
        soaked_at = _soaked_at(step, release) if set(refused) == {"soak_time"} else None
        if soaked_at is not None:  # only the stage's soak holds it: beat advances it then
            analysis.advance_at = soaked_at
            analysis.save(update_fields=["advance_at"])
            return {"advanced": False, "why": why, "refused": refused,
                    "advance_at": soaked_at.isoformat()}  # fmt: skip
        return {"advanced": False, "why": why, "refused": refused}
    traffic = max(STAGE_TRAFFIC[RolloutStage(stage)], step.traffic_percent)
    nxt = RolloutStep.objects.create(
        release=release, environment=step.environment, stage=stage, traffic_percent=traffic,
        requested_by=step.requested_by,
    )  # fmt: skip
    StageAnalysis.objects.create(step=nxt, **{f: getattr(analysis, f) for f in TEMPLATE_FIELDS})
    audit.record_event(
        actor=None, action="rollout.advanced", obj=nxt, system=release.system,
        after={"release": release.version, "environment": step.environment.slug,
               "stage": stage, "traffic_percent": str(traffic), "after_analysis": analysis.pk,
               "idempotency_key": str(nxt.idempotency_key)},
    )  # fmt: skip
    transaction.on_commit(lambda: send_step(nxt.pk))
    return {"advanced": True, "next_step": nxt.pk, "next_stage": stage}


def _soaked_at(step: RolloutStep, release: Release) -> datetime | None:
    """When the step's stage will have soaked as the system's gate policy asks."""
    minutes = (
        GatePolicy.objects.filter(system_id=release.system_id)
        .values_list("soak_minutes", flat=True)
        .first()
    )
    required = int((minutes or {}).get(step.stage) or 0)
    if not required or step.applied_at is None:
        return None
    return step.applied_at + timedelta(minutes=required)


def advance_soaked(now: datetime | None = None) -> int:
    """Beat: advance the rollouts whose stage analysis passed before the stage had soaked,
    now that it has. Returns how many were looked at."""
    now = now or timezone.now()
    due = list(
        StageAnalysis.objects.filter(status=AnalysisStatus.SUCCESSFUL, advance_at__lte=now)
        .order_by("advance_at")
        .values_list("pk", flat=True)[:DUE_AT_ONCE]
    )
    for analysis_id in due:
        _advance_soaked(analysis_id, now)
    return len(due)


@transaction.atomic
def _advance_soaked(analysis_id: int, now: datetime) -> None:
    # SKIP LOCKED and the due time again: a second beat or a slow tick advances it once.
    analysis = (
        StageAnalysis.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("step__release__system", "step__environment")
        .filter(pk=analysis_id, advance_at__lte=now)
        .first()
    )
    if analysis is None:
        return
    analysis.advance_at = None
    analysis.save(update_fields=["advance_at"])
    step = analysis.step
    plan = RollbackPlan.objects.filter(release=step.release).first()
    outcome = _advance(step, analysis, plan)  # may set advance_at again: still soaking
    audit.record_event(
        actor=None, action="analysis.advance_after_soak", obj=analysis,
        system=step.release.system,
        after={"release": step.release.version, "environment": step.environment.slug,
               "stage": step.stage, **outcome},
    )  # fmt: skip


def _abort(
    step: RolloutStep, analysis: StageAnalysis, plan: RollbackPlan | None, now: datetime
) -> dict:
    """A live release is rolled back as the plan's mode says; a candidate's traffic is
    withdrawn."""
    release, environment = step.release, step.environment
    live = live_release(environment)
    if live is not None and live.pk == release.pk:
        if plan is None:
            return {"aborted": True, "rollback": None, "why": "the release has no rollback plan"}
        request = act_on_held_trigger(
            plan=plan,
            environment=environment,
            evidence={
                "source": "analysis",
                "analysis": analysis.pk,
                "metric": f"analysis of {step.get_stage_display().lower()}",
                "query": analysis.query,
                "success_condition": analysis.success_condition,
                "conclusion": analysis.conclusion,
                "value": analysis.measurements.order_by("-taken_at", "-id")[0].value,
                "evaluated_at": now.isoformat(),
                "plan": plan.pk,
                "mode": plan.mode,
            },
            reason=f"The analysis of {release.version} in {environment.name} failed: "
            f"{analysis.conclusion}",
            now=now,
            title=f"The analysis of {release.version} failed in {environment.name}",
        )
        return {
            "aborted": True,
            "mode": plan.mode,
            "rollback": request.pk if request is not None else None,
            "rollback_status": request.status if request is not None else None,
        }
    from releases.services.rollouts import send_step

    withdraw = RolloutStep.objects.create(
        release=release, environment=environment, stage=step.stage, traffic_percent=Decimal(0),
        requested_by=step.requested_by,
    )  # fmt: skip
    transaction.on_commit(lambda: send_step(withdraw.pk))
    return {"aborted": True, "withdrawn_by_step": withdraw.pk, "traffic_percent": "0"}


def aborted_stage(release: Release, environment_id: int) -> RolloutStep | None:
    """The step whose failed analysis aborted the release's rollout in the environment."""
    failed = StageAnalysis.objects.filter(
        step__release=release,
        step__environment_id=environment_id,
        status__in=[AnalysisStatus.FAILED, AnalysisStatus.ERROR],
    ).select_related("step")
    first = failed.order_by("concluded_at").first()
    return first.step if first else None

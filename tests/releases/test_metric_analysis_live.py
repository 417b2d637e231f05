"""Metric analysis against a real Prometheus scraping an exporter the test controls
(tests/fixtures/prometheus_server.py): a stage advances on passing measurements and aborts
on failing ones (rolling back as the plan's mode says); a PromQL trigger in automatic mode
rolls back once, after its `for` window, and not again within the cooldown. Time moves on a
fake clock (time_machine); Prometheus answers at its own now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.models import AuditEvent
from releases import rollbacks, services
from releases.backends import backend_for
from releases.models import (
    AnalysisStatus,
    Environment,
    MeasurementPhase,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
    RollbackTrigger,
    RolloutStep,
    StageAnalysis,
    StepStatus,
    TriggerOutcome,
)
from releases.services import analysis as analyses
from releases.services import promql_triggers, rollouts
from tests.fixtures.releases import go_live, pass_every_gate, rollbacks_held

pytestmark = pytest.mark.django_db

RATIO = "failsafe_test_error_ratio"
ANALYSIS = {"query": RATIO, "success_condition": "result < 0.05", "interval_seconds": 1,
            "count": 3, "failure_limit": 0, "inconclusive_limit": 0}  # fmt: skip


@pytest.fixture
def watched(production, prometheus) -> Environment:  # type: ignore[no-untyped-def]
    """Production, asking the suite's Prometheus."""
    Environment.objects.filter(pk=production.pk).update(prometheus_url=prometheus.url)
    production.refresh_from_db()
    return production


@pytest.fixture
def serve(prometheus):  # type: ignore[no-untyped-def]
    """Serve a value of the error ratio and wait until Prometheus has it (None: none)."""

    def set_value(value: float | None) -> None:
        if value is None:
            prometheus.exporter.clear(RATIO)
        else:
            prometheus.exporter.set(RATIO, value)
        prometheus.wait_for_value(RATIO, value)

    return set_value


@pytest.fixture
def candidate(  # type: ignore[no-untyped-def]
    live_release, make_release, model_owner, release_manager, second_approver, watched,
    rollback_owner,
):  # fmt: skip
    """2.1.0, approved, with a plan of the given mode (and PromQL triggers), 2.0.0 live."""

    def make(mode: str = "automatic", *, advance: bool = True, triggers: Any = (), cooldown=60):  # type: ignore[no-untyped-def]
        release = make_release("2.1.0")
        pass_every_gate(release, model_owner)
        services.save_rollback_plan(
            actor=model_owner, release=release, environment=watched, owners=[rollback_owner],
            mode=mode, cooldown_minutes=cooldown, triggers=list(triggers),
            advance_on_analysis=advance,
        )  # fmt: skip
        services.submit_release(actor=model_owner, release=release)
        for approver in (release_manager, second_approver):
            services.record_approval(
                actor=approver, release=release, decision="approve", comment="ok"
            )
        release.refresh_from_db()
        return release

    return make


def promote_applied(release, actor, environment, stage, traffic, analysis=ANALYSIS):  # type: ignore[no-untyped-def]
    """Promote with an analysis and apply the step here, as the worker would."""
    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=actor, release=release, environment=environment, stage=stage,
            traffic_percent=traffic, analysis=analysis,
        )  # fmt: skip
    return services.apply_rollout_step(step_id=step.pk)


@pytest.fixture
def measure_until_concluded(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Take measurements (as beat's tasks would) until the analysis concludes; the steps it
    handed to the broker after commit are in `analysis.sent_steps`."""

    def measure(analysis: StageAnalysis, most: int = 10) -> StageAnalysis:
        with mock.patch.object(rollouts, "send_step") as sent, rollbacks_held():
            for _ in range(most):
                with django_capture_on_commit_callbacks(execute=True):
                    analyses.take_measurement(analysis_id=analysis.pk)
                analysis.refresh_from_db()
                if not analysis.is_running:
                    break
        analysis.sent_steps = [c.args[0] for c in sent.call_args_list]  # type: ignore[attr-defined]
        return analysis

    return measure


# --- stage analysis -----------------------------------------------------------------------


def test_a_stage_whose_measurements_pass_advances_with_the_same_analysis(
    candidate, release_manager, watched, serve, measure_until_concluded
):
    serve(0.01)
    release = candidate()
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = StageAnalysis.objects.get(step=step)
    assert analysis.is_running and analysis.next_measurement_at is not None  # due at once

    analysis = measure_until_concluded(analysis)

    assert analysis.status == AnalysisStatus.SUCCESSFUL
    phases = list(analysis.measurements.values_list("phase", "value"))
    assert phases == [(MeasurementPhase.SUCCESSFUL, "0.01")] * 3
    nxt = RolloutStep.objects.get(release=release, stage="segment_monitoring")
    assert nxt.status == StepStatus.PENDING and nxt.traffic_percent == 25
    assert nxt.requested_by == release_manager and analysis.sent_steps == [nxt.pk]
    assert StageAnalysis.objects.get(step=nxt).success_condition == "result < 0.05"
    concluded = AuditEvent.objects.get(action="analysis.concluded")
    assert concluded.after["status"] == "successful" and concluded.after["next_step"] == nxt.pk
    assert [m["value"] for m in concluded.after["measurements"]] == ["0.01"] * 3
    assert AuditEvent.objects.filter(action="rollout.advanced", object_id=str(nxt.pk)).exists()


@pytest.fixture
def passed_unsoaked(  # type: ignore[no-untyped-def]
    candidate, release_manager, owner, fraud, watched, serve, measure_until_concluded
):
    """2.1.0 at shadow, which must soak 30 minutes, and its analysis passed already:
    (release, step, analysis)."""
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        soak_minutes={"shadow": 30},
    )  # fmt: skip
    serve(0.01)
    release = candidate()
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))
    return release, step, analysis


def test_a_stage_that_passes_before_it_has_soaked_advances_once_it_has(
    passed_unsoaked, django_capture_on_commit_callbacks
):
    release, step, analysis = passed_unsoaked

    # Passed within seconds, but shadow must soak 30 minutes: nothing moves yet.
    assert analysis.status == AnalysisStatus.SUCCESSFUL
    assert list(RolloutStep.objects.filter(release=release)) == [step]
    assert analysis.advance_at == step.applied_at + timedelta(minutes=30)
    concluded = AuditEvent.objects.get(action="analysis.concluded")
    assert concluded.after["refused"] == ["soak_time"] and concluded.after["advance_at"]
    assert analyses.advance_soaked() == 0  # not yet due

    with (
        time_machine.travel(analysis.advance_at + timedelta(seconds=1)),
        mock.patch.object(rollouts, "send_step") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert analyses.advance_soaked() == 1
        assert analyses.advance_soaked() == 0  # advanced once

    nxt = RolloutStep.objects.get(release=release, stage="segment_monitoring")
    assert nxt.status == StepStatus.PENDING and [c.args[0] for c in sent.call_args_list] == [nxt.pk]
    analysis.refresh_from_db()
    assert analysis.advance_at is None
    event = AuditEvent.objects.get(action="analysis.advance_after_soak")
    assert event.after["advanced"] is True and event.after["next_stage"] == "segment_monitoring"


def test_a_soaked_stage_someone_moved_on_meanwhile_is_left_where_they_put_it(
    passed_unsoaked, release_manager, watched
):
    release, _, analysis = passed_unsoaked
    with time_machine.travel(analysis.advance_at + timedelta(minutes=5)):
        # A person went back to internal testing meanwhile.
        promote_applied(release, release_manager, watched, "internal_testing", 1, analysis=None)
        assert analyses.advance_soaked() == 1
    assert not RolloutStep.objects.filter(release=release, stage="segment_monitoring").exists()
    event = AuditEvent.objects.get(action="analysis.advance_after_soak")
    assert event.after == {
        **event.after,
        "advanced": False,
        "why": "the rollout moved on meanwhile",
    }


def test_a_plan_that_does_not_advance_leaves_the_next_stage_to_people(
    candidate, release_manager, watched, serve, measure_until_concluded
):
    serve(0.01)
    release = candidate(advance=False)
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))
    assert analysis.status == AnalysisStatus.SUCCESSFUL
    assert list(RolloutStep.objects.filter(release=release)) == [step]


def test_a_canary_whose_measurements_fail_is_aborted_and_its_traffic_withdrawn(
    candidate, release_manager, watched, serve, measure_until_concluded
):
    serve(0.2)
    release = candidate("automatic")
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))

    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.measurements.get().phase == MeasurementPhase.FAILED  # failure limit 0
    assert "1 of 1 measurements failed “result < 0.05”" in analysis.conclusion
    withdraw = RolloutStep.objects.exclude(pk=step.pk).get(release=release)
    assert (withdraw.stage, withdraw.traffic_percent) == ("shadow", 0)
    assert analysis.sent_steps == [withdraw.pk]
    assert not RollbackRequest.objects.exists()  # 2.0.0 is live and stays: nothing to roll back
    services.apply_rollout_step(step_id=withdraw.pk)
    status = backend_for(watched).status()
    assert (status.live_version, status.candidate_version, status.traffic_percent) == (
        "2.0.0",
        "2.1.0",
        0.0,
    )
    with pytest.raises(ValidationError, match="aborted this rollout"):
        services.promote_release(
            actor=release_manager, release=release, environment=watched,
            stage="segment_monitoring", traffic_percent=25,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "status"),
    [("automatic", RollbackStatus.REQUESTED), ("auto_propose", RollbackStatus.PROPOSED),
     ("manual", None)],
)  # fmt: skip
def test_a_live_release_whose_analysis_fails_is_rolled_back_as_the_plan_says(
    candidate,
    release_manager,
    watched,
    serve,
    live_release,
    mode,
    status,
    measure_until_concluded,
):
    serve(0.01)
    release = candidate(mode)
    step = promote_applied(release, release_manager, watched, "general_release", 100)
    release.refresh_from_db()
    assert release.status == ReleaseStatus.LIVE
    serve(0.3)  # after the release went live, the error ratio climbs
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))

    assert analysis.status == AnalysisStatus.FAILED
    concluded = AuditEvent.objects.get(action="analysis.concluded")
    assert concluded.after["aborted"] is True
    if status is None:
        assert not RollbackRequest.objects.exists()
        return
    request = RollbackRequest.objects.get()
    assert request.status == status and request.requested_by is None
    assert (request.from_release, request.to_release) == (release, live_release)
    assert request.trigger["source"] == "analysis" and request.trigger["value"] == "0.3"
    assert request.reason.startswith("The analysis of 2.1.0 in Production failed")
    assert concluded.after["rollback"] == request.pk
    incident = request.incident_link.incident
    assert incident.title == "The analysis of 2.1.0 failed in Production"
    if status == RollbackStatus.PROPOSED:  # confirmed in one click, from the war room
        assert incident.get_absolute_url()


def test_no_data_is_inconclusive_and_the_rollout_holds(
    candidate, release_manager, watched, serve, measure_until_concluded
):
    serve(None)
    release = candidate("automatic")
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))

    assert analysis.status == AnalysisStatus.INCONCLUSIVE
    measurement = analysis.measurements.get()
    assert measurement.phase == MeasurementPhase.INCONCLUSIVE
    assert "no series" in measurement.message
    assert list(RolloutStep.objects.filter(release=release)) == [step]  # neither on nor back
    assert not RollbackRequest.objects.exists()


def test_invalid_promql_is_an_error_recorded_from_prometheus_then_aborts(
    candidate, release_manager, watched, serve, measure_until_concluded
):
    serve(0.01)
    release = candidate("automatic")
    bad = {**ANALYSIS, "query": "sum(rate(failsafe_test_error_ratio[1m]"}  # unclosed
    step = promote_applied(release, release_manager, watched, "shadow", 5, analysis=bad)
    analysis = measure_until_concluded(StageAnalysis.objects.get(step=step))

    assert analysis.status == AnalysisStatus.ERROR
    measurements = list(analysis.measurements.all())
    assert len(measurements) == analyses.CONSECUTIVE_ERROR_LIMIT + 1
    assert {m.phase for m in measurements} == {MeasurementPhase.ERROR}
    assert "HTTP 400" in measurements[0].message and "bad_data" in measurements[0].message
    assert RolloutStep.objects.filter(release=release, traffic_percent=0).exists()


def test_beat_claims_a_due_measurement_once(candidate, release_manager, watched, serve):
    release = candidate()
    step = promote_applied(release, release_manager, watched, "shadow", 5)
    analysis = StageAnalysis.objects.get(step=step)
    assert analyses.due_analyses() == [analysis.pk]
    assert analyses.due_analyses() == []  # moved on by its interval
    analysis.refresh_from_db()
    assert analysis.next_measurement_at > timezone.now()


# --- PromQL triggers ----------------------------------------------------------------------

TRIGGER = {"metric": "error_ratio", "query": RATIO, "comparison": "gt", "threshold": "0.05",
           "window_minutes": 5}  # fmt: skip


@pytest.fixture
def trigger_live(candidate, release_manager, watched):  # type: ignore[no-untyped-def]
    """2.1.0 live in production over 2.0.0, its plan automatic with a PromQL trigger."""
    release = candidate("automatic", triggers=[TRIGGER], cooldown=60)
    go_live(release, release_manager, watched)
    release.refresh_from_db()
    return release


def test_a_promql_trigger_rolls_back_once_after_its_for_window_and_not_within_the_cooldown(
    trigger_live, live_release, watched, serve
):
    trigger = RollbackTrigger.objects.get(query=RATIO)
    assert promql_triggers.triggers_in_force() == [trigger.pk]
    serve(0.2)
    t0 = timezone.now()

    def at(minutes: float) -> str:
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False), rollbacks_held():
            return promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)

    assert at(0) == TriggerOutcome.HOLDING
    assert at(3) == TriggerOutcome.HOLDING
    assert not RollbackRequest.objects.exists()  # 3 of 5 minutes: the `for` window holds it
    assert at(5) == TriggerOutcome.FIRED
    request = RollbackRequest.objects.get()
    assert request.status == RollbackStatus.REQUESTED and request.requested_by is None
    assert request.to_release == live_release and request.from_release == trigger_live
    assert request.trigger["query"] == RATIO and request.trigger["value"] == "0.2"
    incident = request.incident_link.incident  # the war room the rollback is watched in
    assert incident.environment == watched and incident.title.startswith("error_ratio > 0.05")
    assert incident.timeline.filter(kind="rollback").exists()
    fired = AuditEvent.objects.get(action="rollback_trigger.fired")
    assert fired.after["query"] == RATIO and fired.after["value"] == "0.2"
    assert fired.after["evaluated_at"] == (t0 + timedelta(minutes=5)).isoformat()
    assert fired.after["rollback"] == request.pk

    rollbacks.fail_rollback(request_id=request.pk, error="backend down")
    assert at(6) == TriggerOutcome.FIRED  # still holding, inside the cooldown: nothing more
    assert at(30) == TriggerOutcome.FIRED
    assert RollbackRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="rollback_trigger.fired").count() == 1
    assert at(64) == TriggerOutcome.FIRED  # 59 minutes after the rollback was asked for
    assert RollbackRequest.objects.count() == 1
    assert at(66) == TriggerOutcome.FIRED  # the cooldown is over: the plan asks again
    assert RollbackRequest.objects.count() == 2


def test_a_gap_in_the_condition_starts_the_window_again(trigger_live, watched, serve):
    trigger = RollbackTrigger.objects.get(query=RATIO)
    t0 = timezone.now()

    def at(minutes: float) -> str:
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False), rollbacks_held():
            return promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)

    serve(0.2)
    assert at(0) == TriggerOutcome.HOLDING
    serve(0.01)
    assert at(3) == TriggerOutcome.CLEAR
    serve(0.2)
    assert at(4) == TriggerOutcome.HOLDING
    assert at(8.9) == TriggerOutcome.HOLDING  # 4.9 minutes since it held again
    assert not RollbackRequest.objects.exists()
    assert at(9) == TriggerOutcome.FIRED
    assert RollbackRequest.objects.count() == 1


def test_a_promql_trigger_that_fires_performs_the_rollback(
    trigger_live, live_release, watched, serve
):
    """The whole path, in this process: the trigger fires, the rollback runs and verifies, and
    the trigger is no longer in force (its release is not live)."""
    trigger = RollbackTrigger.objects.get(query=RATIO)
    serve(0.2)
    t0 = timezone.now()
    for minutes in (0, 5):
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False), rollbacks_held():
            promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)
    request = RollbackRequest.objects.get()
    rollbacks.run_rollback(request_id=request.pk)
    request.refresh_from_db()
    trigger_live.refresh_from_db()
    assert request.status == RollbackStatus.SUCCEEDED
    assert trigger_live.status == ReleaseStatus.ROLLED_BACK
    assert promql_triggers.triggers_in_force() == []


def test_a_query_prometheus_refuses_is_an_error_on_the_trigger_never_a_firing(
    trigger_live, watched, serve
):
    trigger = RollbackTrigger.objects.get(query=RATIO)
    RollbackTrigger.objects.filter(pk=trigger.pk).update(query="rate(failsafe_test_error_ratio[")
    t0 = timezone.now()
    for minutes in (0, 10):
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False), rollbacks_held():
            outcome = promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)
        assert outcome == TriggerOutcome.ERROR
    trigger.refresh_from_db()
    assert "HTTP 400" in trigger.last_error and "bad_data" in trigger.last_error
    assert trigger.holding_since is None and not RollbackRequest.objects.exists()


def test_beat_sends_one_task_per_trigger_and_per_due_analysis(
    trigger_live, candidate, release_manager, watched, settings
):
    from releases import tasks

    assert {"evaluate-promql-triggers", "take-analysis-measurements"} <= set(
        settings.CELERY_BEAT_SCHEDULE
    )
    trigger = RollbackTrigger.objects.get(query=RATIO)
    with mock.patch.object(tasks.handoff, "send") as sent:  # from the sending thread
        assert tasks.evaluate_promql_triggers() == 1
    assert sent.call_args.args == (tasks.evaluate_promql_trigger, (trigger.pk,))
    assert sent.call_args.kwargs["expires"] == tasks.FAN_OUT_EXPIRES

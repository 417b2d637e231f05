"""A Prometheus that is dead, hung or slow: each question gives up within
PROMETHEUS_TIMEOUT_SECONDS and is recorded as no data, never a pass; a PromQL trigger never
fires on it, however long its window, and a stage analysis is inconclusive, not passed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from governance.models import AuditEvent
from releases import services
from releases.analysis import prometheus
from releases.models import (
    AnalysisStatus,
    Environment,
    MeasurementPhase,
    RollbackRequest,
    RollbackTrigger,
    RolloutStep,
    StageAnalysis,
    TriggerOutcome,
)
from releases.services import analysis as analyses
from releases.services import promql_triggers, rollouts
from tests.fixtures.metrics_exporter import SilentServer, SlowServer, dead_url
from tests.fixtures.releases import go_live, pass_every_gate, rollbacks_held

pytestmark = pytest.mark.django_db

BOUND = 1  # PROMETHEUS_TIMEOUT_SECONDS in these tests
SLACK = 1.0  # seconds of scheduling noise on a shared machine


@pytest.fixture(autouse=True)
def short_bound(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROMETHEUS_TIMEOUT_SECONDS = BOUND


@pytest.fixture(params=["dead", "hung", "slow"])
def faulty_url(request) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "dead":
        yield dead_url()
        return
    server = SilentServer() if request.param == "hung" else SlowServer(delay=BOUND + 2)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def faulty(production, faulty_url) -> Environment:  # type: ignore[no-untyped-def]
    Environment.objects.filter(pk=production.pk).update(prometheus_url=faulty_url)
    production.refresh_from_db()
    return production


def test_a_question_gives_up_within_the_bound_as_no_data(faulty):
    started = time.monotonic()
    reading = prometheus.read(faulty, "failsafe_test_error_ratio")
    elapsed = time.monotonic() - started
    assert reading.kind == prometheus.NO_DATA and reading.value is None
    assert elapsed < BOUND + SLACK, f"took {elapsed:.2f} s"
    assert "within 1 s" in reading.message or "unreachable" in reading.message


def test_a_slow_prometheus_within_the_bound_is_answered(production):
    server = SlowServer(delay=0.2, value="0.03")
    try:
        Environment.objects.filter(pk=production.pk).update(prometheus_url=server.url)
        production.refresh_from_db()
        reading = prometheus.read(production, "failsafe_test_error_ratio")
    finally:
        server.stop()
    assert reading.kind == prometheus.VALUE and reading.value == Decimal("0.03")


@pytest.fixture
def promql_plan_live(  # type: ignore[no-untyped-def]
    live_release, make_release, model_owner, release_manager, second_approver, faulty,
    rollback_owner,
):  # fmt: skip
    release = make_release("2.1.0")
    pass_every_gate(release, model_owner)
    services.save_rollback_plan(
        actor=model_owner, release=release, environment=faulty, owners=[rollback_owner],
        mode="automatic", cooldown_minutes=30, advance_on_analysis=True,
        triggers=[{"metric": "error_ratio", "query": "failsafe_test_error_ratio",
                   "comparison": "gt", "threshold": "0.05", "window_minutes": 1}],
    )  # fmt: skip
    services.submit_release(actor=model_owner, release=release)
    for approver in (release_manager, second_approver):
        services.record_approval(actor=approver, release=release, decision="approve", comment="ok")
    release.refresh_from_db()
    return release


def test_a_promql_trigger_never_fires_without_data(promql_plan_live, release_manager, faulty):
    go_live(promql_plan_live, release_manager, faulty)
    trigger = RollbackTrigger.objects.exclude(query="").get()
    t0 = timezone.now()
    for minutes in (0, 1, 2, 10):
        with time_machine.travel(t0 + timedelta(minutes=minutes), tick=False), rollbacks_held():
            started = time.monotonic()
            outcome = promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)
            assert time.monotonic() - started < BOUND + SLACK
        assert outcome == TriggerOutcome.NO_DATA
    trigger.refresh_from_db()
    assert trigger.holding_since is None and trigger.last_error
    assert not RollbackRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="rollback_trigger.fired").exists()


def test_a_stage_analysis_without_data_is_inconclusive_never_passed(
    promql_plan_live, release_manager, faulty
):
    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=release_manager, release=promql_plan_live, environment=faulty, stage="shadow",
            traffic_percent=5, analysis={"query": "failsafe_test_error_ratio",
                                         "success_condition": "result < 0.05", "count": 2,
                                         "inconclusive_limit": 1, "interval_seconds": 1},
        )  # fmt: skip
        services.apply_rollout_step(step_id=step.pk)
    analysis = StageAnalysis.objects.get(step=step)
    for _ in range(2):
        started = time.monotonic()
        analyses.take_measurement(analysis_id=analysis.pk)
        assert time.monotonic() - started < BOUND + SLACK
    analysis.refresh_from_db()
    assert analysis.status == AnalysisStatus.INCONCLUSIVE
    assert set(analysis.measurements.values_list("phase", flat=True)) == {
        MeasurementPhase.INCONCLUSIVE
    }
    assert list(RolloutStep.objects.filter(release=promql_plan_live)) == [step]
    assert not RollbackRequest.objects.exists()

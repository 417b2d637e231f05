"""Staged rollout through the deployment backend, and the deployment history it leaves."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance.models import AuditEvent
from releases import queries, services
from releases.backends import backend_for
from releases.models import Deployment, ReleaseStatus, RolloutStep, StepStatus
from releases.queries import live_release, live_release_at
from releases.services import rollouts
from releases.services.deploy_gate import deployment_verdict
from tests.factories import ApprovedReleaseFactory, LiveDeploymentFactory


def promote(release, actor, environment, stage, traffic=10):  # type: ignore[no-untyped-def]
    return services.promote_release(
        actor=actor, release=release, environment=environment, stage=stage, traffic_percent=traffic
    )


def approve_new(version, model_owner, environment, rollback_owner, approvers):  # type: ignore[no-untyped-def]
    return ApprovedReleaseFactory(
        system=environment.system, actor=model_owner, version=version, environment=environment,
        rollback_owners=[rollback_owner], manual_plan=True, approvers=approvers,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_draft_is_not_promoted(draft, release_manager, production):
    with pytest.raises(ValidationError, match="approved"):
        promote(draft, release_manager, production, "shadow")


@pytest.mark.django_db
def test_viewers_do_not_promote(approved, viewer, production):
    with pytest.raises(PermissionDenied):
        promote(approved, viewer, production, "shadow")


@pytest.mark.django_db
def test_stages_move_forward_through_the_backend(approved, release_manager, production):
    step = promote(approved, release_manager, production, "shadow", traffic=5)
    assert step.status == StepStatus.PENDING
    services.apply_rollout_step(step_id=step.pk)
    approved.refresh_from_db()
    assert approved.status == ReleaseStatus.ROLLING_OUT
    status = backend_for(production).status()
    assert (status.candidate_version, status.traffic_percent) == ("2.0.0", 5.0)

    with pytest.raises(ValidationError) as caught:
        promote(approved, release_manager, production, "segment_monitoring", traffic=150)
    assert "traffic_percent" in caught.value.message_dict


@pytest.mark.django_db
def test_a_second_step_waits_for_the_first(approved, release_manager, production):
    promote(approved, release_manager, production, "shadow")
    with pytest.raises(ValidationError, match="still being applied"):
        promote(approved, release_manager, production, "segment_monitoring")


@pytest.mark.django_db
def test_applying_a_step_twice_changes_nothing_the_second_time(approved, release_manager,
                                                               production):  # fmt: skip
    step = promote(approved, release_manager, production, "general_release")
    services.apply_rollout_step(step_id=step.pk)
    services.apply_rollout_step(step_id=step.pk)
    assert Deployment.objects.filter(environment=production).count() == 1


@pytest.mark.django_db
def test_general_release_makes_it_live_and_supersedes_the_previous(
    live_release, model_owner, production, rollback_owner, release_manager,
    second_approver,
):  # fmt: skip
    newer = approve_new("3.0.0", model_owner, production, rollback_owner,
                        [release_manager, second_approver])  # fmt: skip
    LiveDeploymentFactory(release=newer, actor=release_manager, environment=production)
    newer.refresh_from_db()
    live_release.refresh_from_db()
    assert newer.status == ReleaseStatus.LIVE
    assert live_release.status == ReleaseStatus.SUPERSEDED
    assert queries.live_release(production) == newer
    assert backend_for(production).status().live_version == "3.0.0"


@pytest.mark.django_db
def test_live_at_time_t_across_several_promotions(
    approved, model_owner, production, staging, rollback_owner, release_manager,
    second_approver,
):  # fmt: skip
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        LiveDeploymentFactory(release=approved, actor=release_manager, environment=production)
    v3 = approve_new("3.0.0", model_owner, production, rollback_owner,
                     [release_manager, second_approver])  # fmt: skip
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        LiveDeploymentFactory(release=v3, actor=release_manager, environment=production)
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        LiveDeploymentFactory(release=v3, actor=release_manager, environment=staging)
    v4 = approve_new("4.0.0", model_owner, production, rollback_owner,
                     [release_manager, second_approver])  # fmt: skip
    with time_machine.travel(start + timedelta(hours=5), tick=False):
        LiveDeploymentFactory(release=v4, actor=release_manager, environment=production)

    def at(hours: float):  # type: ignore[no-untyped-def]
        release = live_release_at(production, start + timedelta(hours=hours))
        return release.version if release else None

    assert at(-1) is None
    assert at(0) == "2.0.0"
    assert at(1.99) == "2.0.0"
    assert at(2) == "3.0.0"
    assert at(4) == "3.0.0"
    assert at(5) == "4.0.0"
    assert at(500) == "4.0.0"
    assert live_release(staging).version == "3.0.0"
    assert live_release_at(staging, start + timedelta(hours=2)) is None


@pytest.mark.django_db
def test_live_at_time_t_is_one_query(live_release, production, django_assert_num_queries):
    with django_assert_num_queries(1):
        live_release_at(production, timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_promotion_is_applied_by_the_real_worker(celery_worker, approved, release_manager,
                                                   production):  # fmt: skip
    step = promote(approved, release_manager, production, "general_release")
    deadline = time.monotonic() + 20
    while True:
        step.refresh_from_db()
        if step.status != StepStatus.PENDING:
            break
        assert time.monotonic() < deadline, "the worker never applied the step"
        time.sleep(0.1)
    assert step.status == StepStatus.APPLIED
    assert live_release(production) == approved


@pytest.mark.django_db(transaction=True)
def test_a_step_the_broker_never_got_is_sent_again_by_the_sweep_and_applied_once(
    celery_worker, approved, release_manager, production, settings
):
    with mock.patch.object(rollouts, "send_step"):  # the broker was down: the send was lost
        step = promote(approved, release_manager, production, "general_release")
    assert services.sweep_rollout_steps() == 0  # sent a moment ago: left to its task
    later = timezone.now() + timedelta(seconds=settings.ROLLOUT_REQUEUE_SECONDS + 1)
    with time_machine.travel(later):
        assert services.sweep_rollout_steps() == 1
        assert services.sweep_rollout_steps() == 0  # stamped: not sent again at once
    deadline = time.monotonic() + 20
    while RolloutStep.objects.get(pk=step.pk).status == StepStatus.PENDING:
        assert time.monotonic() < deadline, "the worker never applied the re-sent step"
        time.sleep(0.1)
    assert RolloutStep.objects.get(pk=step.pk).status == StepStatus.APPLIED
    assert Deployment.objects.filter(environment=production, release=approved).count() == 1


@pytest.mark.django_db
def test_a_step_nobody_applied_within_the_patience_fails_and_frees_its_environment(
    approved, release_manager, production, settings
):
    step = promote(approved, release_manager, production, "shadow")
    refused = deployment_verdict(
        release=approved, environment=production, stage="segment_monitoring"
    )
    assert "step_in_flight" in {r.code for r in refused.refusals}
    with mock.patch.object(rollouts, "send_step") as sent:
        later = timezone.now() + timedelta(seconds=settings.ROLLOUT_PATIENCE_SECONDS + 1)
        with time_machine.travel(later):
            assert services.sweep_rollout_steps() == 1
    sent.assert_not_called()  # given up, not sent again
    step.refresh_from_db()
    assert step.status == StepStatus.FAILED and "Never applied" in step.error
    assert AuditEvent.objects.filter(action="rollout.failed", object_id=str(step.pk)).exists()
    allowed = deployment_verdict(release=approved, environment=production, stage="shadow")
    assert "step_in_flight" not in {r.code for r in allowed.refusals}

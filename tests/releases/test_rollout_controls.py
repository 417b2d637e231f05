"""A rollout's rules and controls: stages in order, a minimum soak per stage, skipping either
with the role and a reason, and pause, resume and abort through each backend kind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance.models import AuditEvent
from releases import services
from releases.backends import backend_for
from releases.backends.mlflow import MlflowBackend
from releases.models import (
    AnalysisStatus,
    BackendType,
    LocalDeploymentState,
    ReleaseStatus,
    RolloutStep,
    StepAction,
    StepStatus,
)
from releases.services.deploy_gate import deployment_verdict


def promote(release, actor, environment, stage, traffic=10, **extra):  # type: ignore[no-untyped-def]
    return services.promote_release(
        actor=actor, release=release, environment=environment, stage=stage,
        traffic_percent=traffic, **extra,
    )  # fmt: skip


def applied(release, actor, environment, stage, traffic=10, **extra):  # type: ignore[no-untyped-def]
    """Promote, and let the backend apply it (the worker's part, called here)."""
    step = promote(release, actor, environment, stage, traffic, **extra)
    return services.apply_rollout_step(step_id=step.pk)


def codes(release, environment, stage):  # type: ignore[no-untyped-def]
    verdict = deployment_verdict(release=release, environment=environment, stage=stage)
    return [r.code for r in verdict.refusals]


def soak(owner, fraud, **minutes: int) -> None:  # type: ignore[no-untyped-def]
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        soak_minutes=minutes,
    )  # fmt: skip


# --- stages in order ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_promotion_that_passes_over_a_stage(approved, model_owner, production):
    applied(approved, model_owner, production, "internal_testing")

    with pytest.raises(ValidationError) as refused:
        promote(approved, model_owner, production, "segment_monitoring")

    assert refused.value.message_dict["stage"] == [
        "Shadow / guarded comes before Segment monitoring: promote to it first, or skip it "
        "with a reason."
    ]
    assert codes(approved, production, "general_release") == ["stage_order"]
    assert "Shadow / guarded, Segment monitoring" not in str(
        deployment_verdict(release=approved, environment=production, stage="general_release")
    )
    message = (
        deployment_verdict(release=approved, environment=production, stage="general_release")
        .refusals[0]
        .message
    )
    assert message.startswith("Shadow / guarded and Segment monitoring come before General release")


@pytest.mark.django_db
def test_the_next_stage_a_repeat_and_a_step_back_are_allowed(approved, model_owner, production):
    applied(approved, model_owner, production, "shadow", traffic=5)
    applied(approved, model_owner, production, "shadow", traffic=20)  # another share
    applied(approved, model_owner, production, "internal_testing")  # back
    # The furthest step counts: from internal testing back, shadow was reached already.
    step = applied(approved, model_owner, production, "segment_monitoring")
    assert step.status == StepStatus.APPLIED


@pytest.mark.django_db
def test_the_first_step_may_start_at_any_stage(approved, model_owner, production):
    assert codes(approved, production, "segment_monitoring") == []


@pytest.mark.django_db
def test_a_failed_step_does_not_count_as_reached(approved, model_owner, production):
    applied(approved, model_owner, production, "shadow")
    step = promote(approved, model_owner, production, "segment_monitoring")
    services.fail_rollout_step(step_id=step.pk, error="receiver down")
    assert codes(approved, production, "general_release") == ["stage_order"]


@pytest.mark.django_db
def test_a_release_manager_skips_a_stage_with_a_reason(approved, release_manager, production):
    applied(approved, release_manager, production, "shadow")

    step = promote(
        approved, release_manager, production, "general_release",
        skip_reason="Segment metrics are covered by the shadow run's 48 h soak.",
    )  # fmt: skip

    assert step.reason == "Segment metrics are covered by the shadow run's 48 h soak."
    assert step.waived == [
        "Segment monitoring comes before General release: promote to it first, or skip it "
        "with a reason."
    ]
    event = AuditEvent.objects.filter(action="rollout.requested").latest("id")
    assert event.after["skip_reason"] == step.reason
    assert event.after["waived"] == step.waived


@pytest.mark.django_db
def test_a_skip_needs_a_reason(approved, release_manager, production):
    applied(approved, release_manager, production, "shadow")
    with pytest.raises(ValidationError) as refused:
        promote(approved, release_manager, production, "general_release", skip_reason="  ")
    assert refused.value.message_dict["skip_reason"] == [
        "Say why the rollout skips ahead, or follow the stages."
    ]
    assert not RolloutStep.objects.filter(stage="general_release").exists()


@pytest.mark.django_db
def test_a_skip_needs_the_release_managers_role(approved, model_owner, production):
    applied(approved, model_owner, production, "shadow")
    with pytest.raises(ValidationError) as refused:
        promote(approved, model_owner, production, "general_release", skip_reason="in a hurry")
    [why] = refused.value.message_dict["skip_reason"]
    assert why.startswith("Skipping a stage or a soak: ") and "Release manager" in why
    assert "stage" in refused.value.message_dict


@pytest.mark.django_db
def test_a_reason_waives_nothing_else(approved, release_manager, production, fraud, owner):
    """Only the order and the soak give way to a reason: the policy's required stages hold."""
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        required_stages=["segment_monitoring"],
    )  # fmt: skip
    applied(approved, release_manager, production, "shadow")
    with pytest.raises(ValidationError, match="has not passed there"):
        promote(approved, release_manager, production, "general_release", skip_reason="hurry")


@pytest.mark.django_db
def test_the_way_back_to_the_last_known_good_ignores_the_order(successor, live_release, production):
    """The release a rollback puts back passes wherever its steps stood."""
    verdict = deployment_verdict(release=live_release, environment=production, stage="shadow")
    assert verdict.allowed and verdict.rollback


# --- minimum soak ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_to_leave_a_stage_before_its_soak(
    approved, model_owner, production, owner, fraud
):  # type: ignore[no-untyped-def]
    soak(owner, fraud, segment_monitoring=60)
    applied(approved, model_owner, production, "shadow")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        applied(approved, model_owner, production, "segment_monitoring")
        clock.shift(timedelta(minutes=12, seconds=30))
        with pytest.raises(ValidationError) as refused:
            promote(approved, model_owner, production, "general_release")
        assert refused.value.message_dict["stage"] == [
            "Segment monitoring has soaked 12 of 60 minutes: 48 to go."
        ]
        # Staying, or going back, does not wait for the soak.
        assert codes(approved, production, "segment_monitoring") == []
        assert codes(approved, production, "shadow") == []
        clock.shift(timedelta(minutes=48))
        assert codes(approved, production, "general_release") == []


@pytest.mark.django_db
def test_a_release_manager_cuts_a_soak_short_with_a_reason(
    approved, release_manager, production, owner, fraud
):  # type: ignore[no-untyped-def]
    soak(owner, fraud, shadow=30)
    applied(approved, release_manager, production, "shadow")
    step = promote(
        approved, release_manager, production, "segment_monitoring",
        skip_reason="Shadow traffic was replayed offline for a week.",
    )  # fmt: skip
    assert step.waived == ["Shadow / guarded has soaked 0 of 30 minutes: 30 to go."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ({"canary": 5}, "Not a stage that soaks: canary."),
        ({"general_release": 5}, "Not a stage that soaks: general_release."),
        ({"shadow": 10081}, "Shadow / guarded: between 0 and 10080 minutes (a week)."),
        ({"shadow": -1}, "Shadow / guarded: between 0 and 10080 minutes (a week)."),
        ({"shadow": True}, "Shadow / guarded: whole minutes."),
        ({"shadow": "5"}, "Shadow / guarded: whole minutes."),
    ],
)
def test_a_soak_policy_is_validated(owner, fraud, minutes, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as refused:
        soak(owner, fraud, **minutes)
    assert refused.value.message_dict["soak_minutes"] == [message]


@pytest.mark.django_db
def test_a_soak_policy_is_saved_in_stage_order_without_zeros(owner, fraud):  # type: ignore[no-untyped-def]
    soak(owner, fraud, segment_monitoring=60, shadow=10080, internal_testing=0)
    policy = fraud.gate_policy
    policy.refresh_from_db()
    assert list(policy.soak_minutes.items()) == [("shadow", 10080), ("segment_monitoring", 60)]
    event = AuditEvent.objects.filter(action="gate_policy.updated").latest("id")
    assert event.after["soak_minutes"] == {"shadow": 10080, "segment_monitoring": 60}


@pytest.mark.django_db
def test_the_policy_api_reads_and_writes_the_soak(client, owner, fraud):  # type: ignore[no-untyped-def]
    client.force_login(owner)
    url = "/api/systems/fraud/gate-policy/"
    body = {"required_criteria": [], "approvals_required": 2, "soak_minutes": {"shadow": 45}}
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["soak_minutes"] == {"shadow": 45}
    body["soak_minutes"] = {"shadow": 99999}
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 400
    assert "soak_minutes" in response.json()
    body["soak_minutes"] = {"offline": 5}
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["soak_minutes"] == ["Not a stage that soaks: offline."]


# --- pause, resume, abort (local backend) ------------------------------------------------------


@pytest.mark.django_db
def test_a_pause_holds_the_rollout_until_it_is_resumed(
    approved, model_owner, release_manager, production
):  # type: ignore[no-untyped-def]
    applied(approved, model_owner, production, "shadow")

    pause = services.pause_rollout(actor=model_owner, release=approved, environment=production)
    assert (pause.action, pause.stage, pause.status) == ("pause", "shadow", "pending")
    # Failsafe's hold stands at once, before the backend hears of it.
    with pytest.raises(ValidationError) as refused:
        promote(approved, release_manager, production, "segment_monitoring", skip_reason="x")
    message = refused.value.messages[0]
    assert message.startswith(f"The rollout of 2.0.0 in {production.name} was paused by ")
    assert message.endswith(" UTC: resume first.")
    assert codes(approved, production, "segment_monitoring") == [
        "rollout_paused", "step_in_flight",
    ]  # fmt: skip

    services.apply_rollout_step(step_id=pause.pk)
    assert LocalDeploymentState.objects.get(environment=production).paused is True
    with pytest.raises(ValidationError, match="paused already"):
        services.pause_rollout(actor=model_owner, release=approved, environment=production)

    resume = services.resume_rollout(actor=model_owner, release=approved, environment=production)
    services.apply_rollout_step(step_id=resume.pk)
    assert LocalDeploymentState.objects.get(environment=production).paused is False
    assert applied(approved, model_owner, production, "segment_monitoring").status == "applied"
    with pytest.raises(ValidationError, match="not paused"):
        services.resume_rollout(actor=model_owner, release=approved, environment=production)
    actions = list(
        AuditEvent.objects.filter(action__startswith="rollout.p")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["rollout.pause_requested", "rollout.pause_applied"]


@pytest.mark.django_db
def test_controls_need_the_promote_role_and_a_rollout(approved, viewer, model_owner, production):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="no rollout under way"):
        services.pause_rollout(actor=model_owner, release=approved, environment=production)
    applied(approved, model_owner, production, "shadow")
    with pytest.raises(PermissionDenied):
        services.pause_rollout(actor=viewer, release=approved, environment=production)
    with pytest.raises(PermissionDenied):
        services.abort_rollout(actor=viewer, release=approved, environment=production, reason="x")


@pytest.mark.django_db
def test_an_abort_sends_the_traffic_back_and_starts_the_rollout_over(  # type: ignore[no-untyped-def]
    approved, model_owner, production
):
    analysis = {"query": "vector(1)", "success_condition": "result < 2"}
    step = applied(approved, model_owner, production, "shadow", analysis=analysis)
    state = LocalDeploymentState.objects.get(environment=production)
    assert state.candidate_version == "2.0.0"
    approved.refresh_from_db()
    assert approved.status == ReleaseStatus.ROLLING_OUT

    with pytest.raises(ValidationError) as refused:
        services.abort_rollout(actor=model_owner, release=approved, environment=production,
                               reason=" ")  # fmt: skip
    assert refused.value.message_dict == {"reason": ["Say why the rollout is aborted."]}

    abort = services.abort_rollout(
        actor=model_owner, release=approved, environment=production,
        reason="False positives doubled in the shadow segment.",
    )  # fmt: skip
    approved.refresh_from_db()
    assert approved.status == ReleaseStatus.APPROVED
    step.analysis.refresh_from_db()
    assert step.analysis.status == AnalysisStatus.CANCELLED
    event = AuditEvent.objects.filter(action="rollout.abort_requested").get()
    assert event.after["reason"] == "False positives doubled in the shadow segment."

    services.apply_rollout_step(step_id=abort.pk)
    state.refresh_from_db()
    assert (state.candidate_version, state.stage, state.paused) == ("", "", False)
    abort.refresh_from_db()
    assert abort.status == StepStatus.APPLIED
    # The rollout starts over: no order from before the abort, nothing to pause.
    assert codes(approved, production, "segment_monitoring") == []
    with pytest.raises(ValidationError, match="no rollout under way"):
        services.pause_rollout(actor=model_owner, release=approved, environment=production)


@pytest.mark.django_db
def test_an_abort_overtakes_a_promotion_not_yet_applied(approved, model_owner, production):  # type: ignore[no-untyped-def]
    applied(approved, model_owner, production, "shadow")
    pending = promote(approved, model_owner, production, "segment_monitoring")
    services.abort_rollout(actor=model_owner, release=approved, environment=production,
                           reason="wrong build")  # fmt: skip
    pending.refresh_from_db()
    assert (pending.status, pending.error) == (StepStatus.FAILED, "Aborted before it was applied.")
    # A re-delivered task for it changes nothing.
    assert services.apply_rollout_step(step_id=pending.pk).status == StepStatus.FAILED


@pytest.mark.django_db
def test_a_live_release_is_rolled_back_not_aborted(live_release, release_manager, production):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="roll back instead"):
        services.abort_rollout(actor=release_manager, release=live_release,
                               environment=production, reason="x")  # fmt: skip


# --- pause, resume, abort through the other backends -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_webhook_receiver_hears_each_control_signed(  # type: ignore[no-untyped-def]
    webhook_receiver, approved, model_owner, production
):
    webhook_receiver.configure(production)
    applied(approved, model_owner, production, "shadow", traffic=5)
    assert webhook_receiver.candidate_version == "2.0.0"

    pause = services.pause_rollout(actor=model_owner, release=approved, environment=production)
    assert services.apply_rollout_step(step_id=pause.pk).status == StepStatus.APPLIED
    assert webhook_receiver.paused is True
    resume = services.resume_rollout(actor=model_owner, release=approved, environment=production)
    services.apply_rollout_step(step_id=resume.pk)
    assert webhook_receiver.paused is False
    abort = services.abort_rollout(actor=model_owner, release=approved, environment=production,
                                   reason="latency budget blown")  # fmt: skip
    services.apply_rollout_step(step_id=abort.pk)
    services.apply_rollout_step(step_id=abort.pk)  # re-delivered: applied once
    assert webhook_receiver.candidate_version is None

    controls = [c for c in webhook_receiver.calls if c.action in ("pause", "resume", "abort")]
    assert [c.action for c in controls] == ["pause", "resume", "abort"]
    assert all(c.signature_ok and c.applied for c in controls)
    body = controls[-1].json
    assert (body["stage"], body["traffic_percent"], body["reason"]) == (
        None, None, "latency budget blown",
    )  # fmt: skip
    assert body["idempotency_key"] == str(abort.idempotency_key)
    assert "reason" not in controls[0].json


@pytest.mark.django_db(transaction=True)
def test_a_control_the_receiver_fails_is_retried_then_recorded(  # type: ignore[no-untyped-def]
    webhook_receiver, approved, model_owner, production
):
    webhook_receiver.configure(production)
    applied(approved, model_owner, production, "shadow")
    pause = services.pause_rollout(actor=model_owner, release=approved, environment=production)
    webhook_receiver.fail_next(1, status=503)
    with pytest.raises(Exception, match="503"):  # transient: the task retries
        services.apply_rollout_step(step_id=pause.pk)
    webhook_receiver.fail_next(1, status=400, message="no such rollout")
    step = services.apply_rollout_step(step_id=pause.pk)
    assert step.status == StepStatus.FAILED and "no such rollout" in step.error
    # Failsafe's hold stands even so.
    assert "rollout_paused" in codes(approved, production, "segment_monitoring")


@pytest.mark.django_db
def test_mlflow_has_nothing_to_hold_and_says_so(production, make_release):  # type: ignore[no-untyped-def]
    production.backend_type = BackendType.MLFLOW
    production.backend_config = {
        "tracking_uri": "http://127.0.0.1:9", "model_name": "fraud", "alias": "champion",
    }  # fmt: skip
    production.save()
    backend = backend_for(production)
    assert isinstance(backend, MlflowBackend)
    release = make_release("2.0.0")
    for result in (
        backend.pause(release=release, idempotency_key="k1"),
        backend.resume(release=release, idempotency_key="k2"),
        backend.abort(release=release, idempotency_key="k3", reason="r"),
    ):
        assert result.accepted and result.detail["applied"] is False
        assert "Failsafe's gate holds the rollout" in result.detail["reason"]


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_pauses_resumes_and_aborts(client, approved, model_owner, production):  # type: ignore[no-untyped-def]
    applied(approved, model_owner, production, "shadow")
    client.force_login(model_owner)
    base = f"/api/releases/{approved.pk}/rollout"

    def post(what: str, **body: Any):  # type: ignore[no-untyped-def]
        return client.post(f"{base}/{what}/", body, content_type="application/json")

    answer = post("pause", environment="production")
    assert answer.status_code == 202, answer.content
    assert (answer.json()["action"], answer.json()["status"]) == ("pause", "pending")
    refused = client.post(
        f"/api/releases/{approved.pk}/promotions/",
        {"environment": "production", "stage": "segment_monitoring", "traffic_percent": 20},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "resume first" in str(refused.json())
    assert post("pause", environment="production").status_code == 400
    assert post("resume", environment="production").status_code == 202
    assert post("abort", environment="production").json() == {
        "reason": ["Say why the rollout is aborted."]
    }
    assert post("abort", environment="nowhere", reason="r").status_code == 400
    answer = post("abort", environment="production", reason="bad canary")
    assert answer.status_code == 202
    assert answer.json()["reason"] == "bad canary"


@pytest.mark.django_db
def test_the_api_promotes_with_a_skip_reason(client, approved, release_manager, production):  # type: ignore[no-untyped-def]
    applied(approved, release_manager, production, "shadow")
    client.force_login(release_manager)
    body: dict[str, Any] = {
        "environment": "production", "stage": "general_release", "traffic_percent": 100,
    }  # fmt: skip
    url = f"/api/releases/{approved.pk}/promotions/"
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 400
    assert "skip_reason" in refused.json() and "stage" in refused.json()
    body["skip_reason"] = "hotfix for a fraud ring"
    answer = client.post(url, body, content_type="application/json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["reason"] == "hotfix for a fraud ring"
    assert answer.json()["waived"][0].startswith("Segment monitoring comes before")
    assert RolloutStep.objects.filter(action=StepAction.PROMOTE).count() == 2


@pytest.mark.django_db
def test_the_soak_is_set_on_the_environments_page(client, owner, fraud):  # type: ignore[no-untyped-def]
    client.force_login(owner)
    form = {"approvals_required": "2", "soak_shadow": "30", "soak_segment_monitoring": "60"}
    assert client.post("/systems/fraud/gate-policy/", form).status_code == 302
    fraud.gate_policy.refresh_from_db()
    assert fraud.gate_policy.soak_minutes == {"shadow": 30, "segment_monitoring": 60}
    page = client.get("/systems/fraud/environments/").content.decode()
    assert "shadow / guarded 30 min, segment monitoring 60 min" in page
    too_long = client.post("/systems/fraud/gate-policy/", {**form, "soak_shadow": "10081"})
    assert too_long.status_code == 400
    fraud.gate_policy.refresh_from_db()
    assert fraud.gate_policy.soak_minutes["shadow"] == 30


@pytest.mark.django_db
def test_an_abort_keeps_a_release_rolling_out_elsewhere_rolling_out(  # type: ignore[no-untyped-def]
    approved, model_owner, production, staging
):
    applied(approved, model_owner, staging, "shadow")
    applied(approved, model_owner, production, "shadow")
    services.abort_rollout(actor=model_owner, release=approved, environment=production,
                           reason="production only")  # fmt: skip
    approved.refresh_from_db()
    assert approved.status == ReleaseStatus.ROLLING_OUT
    services.abort_rollout(actor=model_owner, release=approved, environment=staging,
                           reason="and staging")  # fmt: skip
    approved.refresh_from_db()
    assert approved.status == ReleaseStatus.APPROVED
    event = AuditEvent.objects.get(action="release.rollout_aborted")
    assert (event.before, event.after) == ({"status": "rolling_out"}, {"status": "approved"})


@pytest.mark.django_db
def test_the_order_soak_and_pause_cost_the_verdict_no_statement(  # type: ignore[no-untyped-def]
    django_assert_max_num_queries, approved, model_owner, production, owner, fraud
):
    soak(owner, fraud, shadow=60)
    for _ in range(5):
        applied(approved, model_owner, production, "shadow")
    services.pause_rollout(actor=model_owner, release=approved, environment=production)
    with django_assert_max_num_queries(2):  # the facts, and the freeze's rule
        verdict = deployment_verdict(
            release=approved, environment=production, stage="general_release"
        )
    assert [r.code for r in verdict.refusals] == [
        "stage_order", "soak_time", "rollout_paused", "step_in_flight",
    ]  # fmt: skip

"""Rollbacks run by a real Celery worker against a real HTTP receiver: fifty presses make one
backend call; transient errors are retried; a backend that keeps failing fails the rollback."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from django.db import connection

from governance.models import AuditEvent
from incidents import services as incidents
from incidents.models import EntryKind
from releases.models import Deployment, RollbackRequest, RollbackStatus

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = (RollbackStatus.SUCCEEDED, RollbackStatus.FAILED)


@pytest.fixture
def webhook_production(webhook_receiver, production, successor):
    webhook_receiver.configure(production)
    webhook_receiver.set_live(successor.version)
    return production


@pytest.fixture
def incident(oncall_lead, fraud, webhook_production):
    return incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=webhook_production,
        title="Review rate tripled", severity="sev1", category="drift",
    )  # fmt: skip


def finished(request_id: int, timeout: float = 30) -> RollbackRequest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = RollbackRequest.objects.get(pk=request_id)
        if request.status in FINISHED:
            return request
        time.sleep(0.1)
    raise AssertionError(f"rollback {request_id} still {request.status} after {timeout} s")


def rollback_calls(receiver) -> list:  # type: ignore[no-untyped-def]
    return [call for call in receiver.calls if call.path.endswith("/deploy")]


def test_fifty_concurrent_presses_make_one_backend_call(
    celery_worker, webhook_receiver, incident, rollback_owner, oncall_lead, live_release
):
    pressers = [rollback_owner, oncall_lead] * 25
    barrier = threading.Barrier(len(pressers))
    answers: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def press(user) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            request, created = incidents.roll_back_incident(
                actor=user, incident=incident, reason="Review rate tripled"
            )
            answers.append((request.pk, created))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in pressers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = {pk for pk, _ in answers}
    assert len(ids) == 1 and sum(created for _, created in answers) == 1

    request = finished(ids.pop())
    assert request.status == RollbackStatus.SUCCEEDED
    assert len(rollback_calls(webhook_receiver)) == 1
    assert list(webhook_receiver.applied) == [request.idempotency_key]
    assert webhook_receiver.live_version == live_release.version
    live = Deployment.objects.get(environment=incident.environment, ended_at__isnull=True)
    assert live.release == live_release


def test_two_server_errors_then_success_is_retried_to_success(
    celery_worker, webhook_receiver, incident, rollback_owner
):
    webhook_receiver.fail_next(2, status=500)
    request, _ = incidents.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    request = finished(request.pk)
    assert request.status == RollbackStatus.SUCCEEDED
    assert request.attempts == 3
    assert len(rollback_calls(webhook_receiver)) == 3
    assert len(webhook_receiver.applied) == 1


def test_a_backend_that_keeps_failing_fails_the_rollback_visibly(
    client, celery_worker, webhook_receiver, incident, rollback_owner
):
    webhook_receiver.fail_next(100, status=500, message="deploy controller unavailable")
    request, _ = incidents.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    request = finished(request.pk, timeout=60)
    assert request.status == RollbackStatus.FAILED
    assert "500" in request.error
    assert request.attempts == 4  # the first call and three retries
    assert not webhook_receiver.applied
    assert AuditEvent.objects.filter(action="rollback.failed", object_id=str(request.pk)).exists()
    client.force_login(rollback_owner)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'class="rollback-failed"' in page and "deploy controller unavailable" in page


def test_a_live_run_keeps_its_lease_however_long_the_backend_takes(
    settings, artifacts_dir, webhook_receiver, incident, rollback_owner, live_release
):
    """The backend answers the call after one and a half leases: the run renews its lease
    meanwhile, so the sweep finds nothing to take over and the call is made once."""
    from releases import rollbacks
    from tests.conftest import start_worker, stop_worker

    settings.ROLLBACK_QUEUE = "rollback-lease-test"  # only the worker started here takes it
    worker = start_worker(
        artifacts_dir / "worker-lease.log", queues="rollback-lease-test",
        ROLLBACK_LEASE_SECONDS="3",  # renewed every second
    )  # fmt: skip
    webhook_receiver.delay(4.5)  # within the backend's 5-s timeout
    try:
        request, _ = incidents.roll_back_incident(
            actor=rollback_owner, incident=incident, reason="Review rate tripled"
        )
        webhook_receiver.wait_for(lambda receiver: receiver.applied, timeout=20)
        leases = set()
        while RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.RUNNING:
            assert rollbacks.sweep_rollbacks() == 0, "a live run was taken over"
            leases.add(RollbackRequest.objects.get(pk=request.pk).lease_until)
            time.sleep(0.2)
        request = finished(request.pk)
    finally:
        stop_worker(worker)
    assert request.status == RollbackStatus.SUCCEEDED and request.attempts == 1
    assert len(rollback_calls(webhook_receiver)) == 1
    assert len(leases - {None}) >= 2  # renewed while the backend kept the call


def test_a_worker_killed_during_the_backend_call_is_replaced_and_applies_once(
    settings, artifacts_dir, webhook_receiver, incident, rollback_owner, live_release
):
    """The worker dies (SIGKILL) while the backend is answering; the change already landed
    there. Nobody renews the lease any more: once it ran out a new worker takes the request
    over, calls again with the same idempotency key, and verifies: applied once, recorded
    once."""
    from releases import rollbacks
    from tests.conftest import start_worker, stop_worker

    settings.ROLLBACK_QUEUE = "rollback-kill-test"  # only the workers started here take it
    lease = {"ROLLBACK_LEASE_SECONDS": "3"}
    doomed = start_worker(artifacts_dir / "worker-killed.log", queues="rollback-kill-test", **lease)
    webhook_receiver.delay(30)  # applies at once, answers late: the worker dies waiting
    try:
        request, _ = incidents.roll_back_incident(
            actor=rollback_owner, incident=incident, reason="Review rate tripled"
        )
        webhook_receiver.wait_for(lambda receiver: receiver.applied, timeout=20)
        stop_worker(doomed, signal.SIGKILL)
    finally:
        stop_worker(doomed, signal.SIGKILL)
    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.RUNNING

    webhook_receiver.delay(0)
    successor = start_worker(
        artifacts_dir / "worker-successor.log", queues="rollback-kill-test", **lease
    )
    try:
        deadline = time.monotonic() + 20
        while rollbacks.sweep_rollbacks() == 0:  # the lease has to run out first
            assert time.monotonic() < deadline, "the sweep never took the orphaned run over"
            time.sleep(0.5)
        request = finished(request.pk)
    finally:
        stop_worker(successor)
    assert request.status == RollbackStatus.SUCCEEDED and request.attempts == 2
    assert list(webhook_receiver.applied) == [request.idempotency_key]  # applied once
    assert len(rollback_calls(webhook_receiver)) == 2  # the second call was a replay
    steps = incident.timeline.filter(kind=EntryKind.ROLLBACK).values_list("body", flat=True)
    assert any("(attempt 2)" in body and "had applied it already" in body for body in steps)
    assert Deployment.objects.filter(environment=incident.environment, via="rollback").count() == 1
    assert webhook_receiver.live_version == live_release.version

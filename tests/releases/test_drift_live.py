"""Drift against a real MLflow server (tests/fixtures/mlflow_server.py): the alias moved with
MLflow's REST API, outside Failsafe, becomes one incident through the reconcile (as beat
runs it) and through MLflow's signed alias webhook (Django's live server, the suite's real
Celery worker); ROLL BACK NOW points the alias at the approved version again."""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone

from incidents import services as incidents
from incidents.models import Category, Incident
from releases import drift, rollbacks, services
from releases.drift import notices
from releases.models import BackendType, ComponentKind, Deployment, Drift, DriftResolution
from tests.fixtures.releases import rollbacks_held, stack
from tests.releases.test_intake_live import create_webhook

ALIAS = "champion"


@pytest.fixture
def model(mlflow_server):  # type: ignore[no-untyped-def]
    name = mlflow_server.create_registered_model(f"fraud-gbm-{uuid.uuid4().hex[:8]}")
    assert [mlflow_server.create_model_version(name) for _ in range(2)] == ["1", "2"]
    return name


@pytest.fixture
def recorded(production, mlflow_server, model, make_release):  # type: ignore[no-untyped-def]
    """2.0.0 (model version 2) live in production by Failsafe's record and in MLflow; 1.9.0
    is model version 1."""
    production.backend_type = BackendType.MLFLOW
    production.backend_config = {"tracking_uri": mlflow_server.url, "model_name": model,
                                 "alias": ALIAS, "timeout_seconds": 5}  # fmt: skip
    production.save()

    def release(version: str, model_version: int):  # type: ignore[no-untyped-def]
        components = stack(version)
        for component in components:
            if component["kind"] == ComponentKind.MODEL:
                component["uri"] = f"models:/{model}/{model_version}"
        return make_release(version, components=components)

    older, live = release("1.9.0", 1), release("2.0.0", 2)
    from releases.backends import backend_for

    backend_for(production).deploy(
        release=live, stage="general_release", traffic_percent=100, idempotency_key="go-2.0.0"
    )
    Deployment.objects.create(
        environment=production, release=live, started_at=timezone.now(), via="rollout"
    )
    assert mlflow_server.alias_version(model, ALIAS) == "2"
    return older, live


def move_alias(mlflow_server, model: str, version: str) -> None:  # type: ignore[no-untyped-def]
    """What someone does by hand, outside Failsafe."""
    mlflow_server.call(
        "POST", "registered-models/alias", {"name": model, "alias": ALIAS, "version": version}
    )


@pytest.mark.django_db
def test_an_alias_moved_by_hand_is_one_incident_and_roll_back_now_moves_it_back(
    mlflow_server, model, recorded, production, oncall_lead
):
    older, live = recorded
    assert drift.reconcile_environment(environment_id=production.pk) == "in_sync"

    move_alias(mlflow_server, model, "1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notices, "send_notices", lambda *a: None)
        outcomes = [drift.reconcile_environment(environment_id=production.pk) for _ in range(10)]

    assert outcomes == ["detected"] + ["drift"] * 9
    found = Drift.objects.get()
    assert found.observed_version == "model version 1" and found.observed_release == older
    incident = Incident.objects.get()
    assert incident.category == Category.UNGOVERNED_CHANGE and incident.drift == found

    with rollbacks_held():
        request, created = incidents.roll_back_incident(
            actor=oncall_lead, incident=incident, reason="Put the approved model back."
        )
    assert created and request.to_release == live
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("releases.drift.reconcile.schedule_reconcile", lambda ids: None)
        rollbacks.run_rollback(request_id=request.pk)
    assert mlflow_server.alias_version(model, ALIAS) == "2"

    assert drift.reconcile_environment(environment_id=production.pk) == "restored"
    found.refresh_from_db()
    assert found.resolution == DriftResolution.RESTORED
    assert incident.timeline.filter(body__contains="reports 2.0.0 again").exists()
    assert Incident.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_mlflow_alias_webhook_declares_the_incident_within_seconds(
    mlflow_server, celery_worker, live_server, owner, fraud, model, recorded, production
):
    _, secret = services.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    url = f"{live_server.url}/api/intake/mlflow/{fraud.slug}/"
    create_webhook(mlflow_server, url, str(secret), ["model_version_alias.created"])

    started = time.monotonic()
    move_alias(mlflow_server, model, "1")

    deadline = started + 15
    while not Incident.objects.filter(drift__environment=production).exists():
        assert time.monotonic() < deadline, f"no incident; MLflow:\n{mlflow_server.log_tail()}"
        time.sleep(0.1)
    took = time.monotonic() - started
    assert took < 10, took
    assert Incident.objects.count() == 1
    assert Drift.objects.get().observed_version == "model version 1"

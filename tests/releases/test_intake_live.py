"""The registry intake end to end: a real MLflow server (tests/fixtures/mlflow_server.py)
delivers its signed webhook to Django's live server, and the suite's real Celery worker
imports the model version back from MLflow as a draft release with its run's metrics."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from releases import services
from releases.intake.signature import sign
from releases.models import GateCheck, ImportStatus, RegistryVersion, Release, WebhookDelivery
from tests.fixtures.mlflow_server import WEBHOOK_CACHE_SECONDS, MlflowServer

WAIT_SECONDS = 45  # for MLflow's delivery and the worker's import, on a loaded machine
MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.9
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.5.2
model_uuid: {uuid}
utc_time_created: '2026-12-07 10:00:00.000000'
"""


def wait_for(condition: Callable[[], Any], what: str, server: MlflowServer) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} within {WAIT_SECONDS} s. Deliveries: "
                f"{list(WebhookDelivery.objects.values_list('event', 'status'))}; imports: "
                f"{list(RegistryVersion.objects.values_list('version', 'status', 'error'))}. "
                f"MLflow's log:\n{server.log_tail()}"
            )
        time.sleep(0.2)
    return result


def train(server: MlflowServer, name: str, metrics: dict[str, float]) -> str:
    """What a training job does: a run with its metrics and a logged model (its MLmodel
    file in the artifact store), registered as a new version of `name`."""
    run = server.call("POST", "runs/create", {"experiment_id": "0", "run_name": f"train {name}"})
    info = run["run"]["info"]
    stamp = int(time.time() * 1000)
    server.call(
        "POST", "runs/log-batch",
        {"run_id": info["run_id"],
         "metrics": [{"key": k, "value": v, "timestamp": stamp, "step": 0}
                     for k, v in metrics.items()]},
    )  # fmt: skip
    artifacts = info["artifact_uri"]
    assert artifacts.startswith("file://"), artifacts
    model_dir = Path(unquote(urlsplit(artifacts).path)) / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "MLmodel").write_text(MLMODEL.format(uuid=uuid.uuid4().hex))
    created = server.call(
        "POST", "model-versions/create",
        {"name": name, "source": f"{artifacts}/model", "run_id": info["run_id"]},
    )  # fmt: skip
    return str(created["model_version"]["version"])


def create_webhook(server: MlflowServer, url: str, secret: str, events: list[str]) -> str:
    """MLflow's REST API for webhooks (MLflow 3.3+): the events as entity and action."""
    body = {
        "name": f"failsafe-{uuid.uuid4().hex[:6]}",
        "url": url,
        "secret": secret,
        "events": [
            {"entity": entity.upper(), "action": action.upper()}
            for entity, action in (event.split(".") for event in events)
        ],
    }
    created = server.call("POST", "webhooks", body)
    time.sleep(WEBHOOK_CACHE_SECONDS + 0.5)  # MLflow's cached list of webhooks expires
    return str(created["webhook"]["webhook_id"])


def webhook_test(server: MlflowServer, webhook_id: str) -> dict[str, Any]:
    """MLflow's own test delivery (an example payload, signed as a real one)."""
    return dict(server.call("POST", f"webhooks/{webhook_id}/test", {}).get("result") or {})


@pytest.fixture
def followed(owner, fraud, mlflow_server):  # type: ignore[no-untyped-def]
    return services.follow_model(
        actor=owner, system=fraud, model_name=f"fraud-gbm-{uuid.uuid4().hex[:8]}",
        tracking_uri=mlflow_server.url,
        metric_criteria={
            "auc": {"criterion": "benchmark", "comparison": "gte", "target": "0.9"},
            "p95_latency_ms": {"criterion": "latency", "comparison": "lte", "target": "300"},
        },
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_version_registered_in_mlflow_arrives_once_as_a_draft_with_its_metrics(
    mlflow_server, celery_worker, live_server, owner, fraud, live_release, followed
):
    _, secret = services.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    url = f"{live_server.url}/api/intake/mlflow/{fraud.slug}/"
    create_webhook(
        mlflow_server, url, str(secret),
        ["model_version.created", "model_version_tag.set", "model_version_alias.created"],
    )  # fmt: skip
    name = mlflow_server.create_registered_model(followed.model_name)

    version = train(mlflow_server, name, {"auc": 0.934, "p95_latency_ms": 212.5, "loss": 0.18})

    found = wait_for(
        lambda: RegistryVersion.objects.filter(
            model_name=name, version=version, status=ImportStatus.IMPORTED
        ).first(),
        "MLflow's signed delivery was not imported",
        mlflow_server,
    )
    release = Release.objects.get(pk=found.release_id)
    assert release.status == "draft" and release.author is None
    model = release.components.get(kind="model")
    assert model.uri == f"models:/{name}/{version}"
    assert len(model.digest) == 64 and found.flavors == ["python_function", "sklearn"]
    carried = {c.kind: c.digest for c in live_release.components.exclude(kind="model")}
    assert {c.kind: c.digest for c in release.components.exclude(kind="model")} == carried
    checks = {c.criterion: c for c in GateCheck.objects.filter(release=release)}
    assert set(checks) == {"benchmark", "latency"}
    assert checks["benchmark"].measured_value == Decimal("0.934") and checks["benchmark"].passed
    assert checks["latency"].measured_value == Decimal("212.5") and checks["latency"].passed
    run_link = checks["benchmark"].evidence_uri
    assert run_link.startswith(f"{mlflow_server.url}/#/experiments/0/runs/")
    assert found.unmapped_metrics == {"loss": 0.18}

    # The same version announced again (a tag set on it, an alias pointed at it): one release.
    mlflow_server.call(
        "POST", "model-versions/set-tag",
        {"name": name, "version": version, "key": "reviewed", "value": "yes"},
    )  # fmt: skip
    mlflow_server.call(
        "POST", "registered-models/alias", {"name": name, "alias": "candidate", "version": version}
    )
    wait_for(
        lambda: WebhookDelivery.objects.filter(model_name=name).count() >= 3,
        "MLflow's tag and alias deliveries did not arrive",
        mlflow_server,
    )
    time.sleep(1)  # any import the second delivery scheduled would have run by now
    assert Release.objects.filter(registry_version__model_name=name).count() == 1
    statuses = WebhookDelivery.objects.filter(model_name=name).values_list("status", flat=True)
    assert set(statuses) == {"importing", "replayed", "recorded"}


@pytest.mark.django_db(transaction=True)
def test_forged_revoked_and_stale_signatures_are_refused_and_create_nothing(
    mlflow_server, live_server, owner, fraud, live_release, followed
):
    stored, secret = services.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    url = f"{live_server.url}/api/intake/mlflow/{fraud.slug}/"
    good = create_webhook(mlflow_server, url, str(secret), ["model_version.created"])
    forged = create_webhook(mlflow_server, url, "fsw_" + "f" * 43, ["model_version.created"])

    # MLflow's own test delivery, signed by each webhook's secret.
    assert webhook_test(mlflow_server, good).get("response_status") == 200
    refused = webhook_test(mlflow_server, forged)
    assert refused.get("response_status") == 401, refused

    # A delivery made and signed with the system's secret, but ten minutes ago: stale.
    body = json.dumps(
        {"entity": "model_version", "action": "created", "timestamp": "",
         "data": {"name": followed.model_name, "version": "1"}}
    ).encode()  # fmt: skip
    stamp, delivery = str(int(time.time()) - 600), str(uuid.uuid4())
    stale = httpx.post(
        url, content=body, timeout=10,
        headers={"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery,
                 "X-MLflow-Timestamp": stamp,
                 "X-MLflow-Signature": sign(str(secret), delivery, stamp, body)},
    )  # fmt: skip
    assert stale.status_code == 401 and "Stale" in stale.json()["detail"]

    services.revoke_webhook_secret(actor=owner, secret=stored)
    assert webhook_test(mlflow_server, good).get("response_status") == 401
    assert not WebhookDelivery.objects.exists() and not RegistryVersion.objects.exists()
    assert not Release.objects.filter(version__startswith=followed.model_name).exists()

"""Registry intake: webhook secrets, followed models, MLflow's signed webhook and the import of
a model version as a draft release (MLflow stood in for by a fake registry; the real one is
tests/releases/test_intake_live.py)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import AuditEvent
from releases import services
from releases.content import stack_digest, suggest_categories
from releases.intake import prefill
from releases.intake.registry import ModelVersionFacts
from releases.intake.signature import sign
from releases.models import (
    BackendType,
    ChangeCategory,
    ComponentKind,
    GateCheck,
    ImportStatus,
    ModelFollow,
    RegistryVersion,
    Release,
    WebhookDelivery,
    WebhookSecret,
)
from releases.services import intake
from releases.services.registration import TO_REVIEW, submission_problems
from tests.fixtures.releases import CARD, stack
from tests.matrix import OWNERS, Route

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"fsw_[A-Za-z0-9_-]{40,}")
WEBHOOK = "/api/intake/mlflow/fraud/"
MLMODEL_DIGEST = "ab" * 32
METRICS = {
    "auc": {"criterion": "benchmark", "comparison": "gte", "target": "0.9"},
    "p95_latency_ms": {"criterion": "latency", "comparison": "lte", "target": "300"},
}


# --- helpers -------------------------------------------------------------------------------


def envelope(name: str = "fraud-gbm", version: str = "3", **data: Any) -> dict[str, Any]:
    """A model_version.created delivery as MLflow sends it."""
    return {
        "entity": data.pop("entity", "model_version"),
        "action": data.pop("action", "created"),
        "timestamp": "2026-12-07T10:00:00+00:00",
        "data": {"name": name, "version": version, "source": "models:/m-1", "run_id": "r1",
                 "tags": {}, "description": None, **data},
    }  # fmt: skip


def deliver(client, secret: str, payload: Any, *, delivery_id: str | None = None,
            timestamp: int | None = None, path: str = WEBHOOK, raw: bytes | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    body = raw if raw is not None else json.dumps(payload).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return client.post(
        path, data=body, content_type="application/json",
        headers={"X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
                 "X-MLflow-Signature": sign(secret, delivery_id, stamp, body)},
    )  # fmt: skip


def facts(version: str = "3", **changes: Any) -> ModelVersionFacts:
    values: dict[str, Any] = {
        "name": "fraud-gbm",
        "version": version,
        "source": f"mlflow-artifacts:/0/r{version}/artifacts/model",
        "run_id": f"run{version}",
        "run_url": f"https://mlflow.example.com/#/experiments/0/runs/run{version}",
        "digest": MLMODEL_DIGEST,
        "flavors": ["python_function", "sklearn"],
        "metrics": {"auc": 0.93, "p95_latency_ms": 412.0, "loss": 0.21, "odd": float("nan")},
    }
    return ModelVersionFacts(**{**values, **changes})


class FakeRegistry:
    """MLflow as the import reads it, answering `facts` (or raising it)."""

    answer: Any = None
    calls = 0

    def __init__(self, follow: ModelFollow) -> None:
        self.follow = follow

    def model_version_facts(self, name: str, version: str) -> ModelVersionFacts:
        FakeRegistry.calls += 1
        if isinstance(FakeRegistry.answer, Exception):
            raise FakeRegistry.answer
        return FakeRegistry.answer or facts(version)


@pytest.fixture
def registry(monkeypatch):  # type: ignore[no-untyped-def]
    FakeRegistry.answer, FakeRegistry.calls = None, 0
    monkeypatch.setattr(intake.imports, "Registry", FakeRegistry)
    return FakeRegistry


@pytest.fixture
def follow(owner, fraud):  # type: ignore[no-untyped-def]
    return services.follow_model(
        actor=owner, system=fraud, model_name="fraud-gbm",
        tracking_uri="https://mlflow.example.com", metric_criteria=METRICS,
    )  # fmt: skip


@pytest.fixture
def webhook_secret(owner, fraud):  # type: ignore[no-untyped-def]
    return services.create_webhook_secret(actor=owner, system=fraud, name="MLflow prod")


def import_version(fraud, version: str = "3") -> RegistryVersion:  # type: ignore[no-untyped-def]
    found, _ = RegistryVersion.objects.get_or_create(
        system=fraud, model_name="fraud-gbm", version=version
    )
    return intake.import_model_version(registry_version_id=found.pk)


# --- webhook secrets -----------------------------------------------------------------------


def test_a_secret_is_shown_once_kept_encrypted_and_audited(client, owner, fraud):
    client.force_login(owner)
    response = client.post("/api/systems/fraud/webhook-secrets/", {"name": "MLflow prod"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 201, response.content
    assert "no-store" in response["Cache-Control"]
    secret = response.json()["secret"]
    assert SECRET.fullmatch(secret)
    assert response.json()["webhook_url"] == "http://testserver/api/intake/mlflow/fraud/"
    stored = WebhookSecret.objects.get()
    assert stored.secret == secret and stored.prefix == secret[:10]
    with connection.cursor() as cursor:  # the column holds ciphertext, not the secret
        cursor.execute("SELECT sealed::text FROM releases_webhooksecret")
        (raw,) = cursor.fetchone()
    assert secret not in raw
    event = AuditEvent.objects.get(action="webhook_secret.created")
    assert event.system_id == fraud.pk and event.actor_id == owner.pk
    assert secret not in json.dumps([event.before, event.after, event.object_repr])
    listed = client.get("/api/systems/fraud/webhook-secrets/")
    assert secret not in listed.content.decode()
    assert listed.json()[0]["prefix"] == secret[:10]
    page = client.get("/systems/fraud/intake/")
    assert page.status_code == 200 and not SECRET.search(page.content.decode())


def test_the_page_shows_a_new_secret_once(client, owner, fraud):
    client.force_login(owner)
    response = client.post("/systems/fraud/intake/secrets/", {"name": "MLflow"})
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    assert len(set(SECRET.findall(response.content.decode()))) == 1
    assert "it will not be shown again" in response.content.decode()
    assert not SECRET.search(client.get("/systems/fraud/intake/").content.decode())


def test_revoking_a_secret_is_audited_and_forgets_it(client, owner, fraud, webhook_secret):
    stored, _ = webhook_secret
    client.force_login(owner)
    response = client.post(f"/api/systems/fraud/webhook-secrets/{stored.pk}/revoke/")
    assert response.status_code == 200 and response.json()["revoked_at"]
    stored.refresh_from_db()
    assert stored.revoked_at is not None and stored.secret == ""
    assert AuditEvent.objects.filter(action="webhook_secret.revoked", system=fraud).exists()
    again = client.post(f"/api/systems/fraud/webhook-secrets/{stored.pk}/revoke/")
    assert again.status_code == 400


@pytest.mark.parametrize("persona", ["model_owner", "release_manager", "viewer", "compliance"])
def test_only_owners_manage_secrets_and_follows(client, fraud, owner, follow, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/api/systems/fraud/webhook-secrets/").status_code == 403
    assert client.post("/api/systems/fraud/webhook-secrets/", {"name": "x"},
                       content_type="application/json").status_code == 403  # fmt: skip
    assert client.post("/api/systems/fraud/model-follows/", {"model_name": "x"},
                       content_type="application/json").status_code == 403  # fmt: skip
    assert client.delete(f"/api/systems/fraud/model-follows/{follow.pk}/").status_code == 403
    assert client.get("/systems/fraud/intake/").status_code == 403
    assert client.post("/systems/fraud/intake/secrets/", {"name": "x"}).status_code == 403
    assert not WebhookSecret.objects.exists() and ModelFollow.objects.count() == 1


def test_systems_one_cannot_see_do_not_exist(client, fraud, outsider, owner, other_system):
    client.force_login(outsider)
    assert client.get("/api/systems/fraud/webhook-secrets/").status_code == 404
    assert client.get("/systems/fraud/intake/").status_code == 404
    client.force_login(owner)
    assert client.get("/api/systems/hidden/model-follows/").status_code == 404
    assert client.post("/systems/hidden/intake/secrets/", {"name": "x"}).status_code == 404


# --- follows -------------------------------------------------------------------------------


def test_following_changing_and_unfollowing_are_audited(client, owner, fraud):
    client.force_login(owner)
    body = {"model_name": "fraud-gbm", "tracking_uri": "https://mlflow.example.com/",
            "token": "t0ken", "metric_criteria": METRICS}  # fmt: skip
    created = client.post("/api/systems/fraud/model-follows/", body,
                          content_type="application/json")  # fmt: skip
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["tracking_uri"] == "https://mlflow.example.com" and data["has_token"]
    assert "token" not in data and "t0ken" not in created.content.decode()
    assert data["metric_criteria"]["auc"] == {"criterion": "benchmark", "comparison": "gte",
                                              "target": "0.900000"}  # fmt: skip
    follow = ModelFollow.objects.get()
    assert follow.secrets == {"token": "t0ken"}
    changed = client.put(
        f"/api/systems/fraud/model-follows/{follow.pk}/",
        {"tracking_uri": "https://mlflow2.example.com", "metric_criteria": {}},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    follow.refresh_from_db()
    assert follow.secrets == {"token": "t0ken"} and follow.metric_criteria == {}  # token kept
    assert client.delete(f"/api/systems/fraud/model-follows/{follow.pk}/").status_code == 204
    assert not ModelFollow.objects.exists()
    actions = list(
        AuditEvent.objects.filter(system=fraud, action__startswith="model_follow.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["model_follow.created", "model_follow.updated", "model_follow.deleted"]
    assert not AuditEvent.objects.filter(after__icontains="t0ken").exists()


@pytest.mark.parametrize(
    "criteria",
    [
        {"auc": {"criterion": "rollback_ready", "comparison": "gte", "target": "1"}},
        {"auc": {"criterion": "benchmark", "comparison": "attested", "target": "1"}},
        {"auc": {"criterion": "benchmark", "comparison": "gte", "target": "1e20"}},
        {
            "auc": {"criterion": "benchmark", "comparison": "gte", "target": "1"},
            "f1": {"criterion": "benchmark", "comparison": "gte", "target": "1"},
        },
        {"auc": {"criterion": "benchmark", "comparison": "gte"}},
        {"x" * 251: {"criterion": "benchmark", "comparison": "gte", "target": "1"}},
        ["auc"],
    ],
)
def test_a_mapping_a_gate_could_not_use_is_refused(owner, fraud, criteria):
    with pytest.raises(Exception, match="metric_criteria"):
        services.follow_model(
            actor=owner, system=fraud, model_name="m", tracking_uri="https://mlflow.example.com",
            metric_criteria=criteria,
        )  # fmt: skip
    assert not ModelFollow.objects.exists()


def test_the_follow_form_reads_one_metric_a_line(client, owner, fraud):
    client.force_login(owner)
    response = client.post("/systems/fraud/intake/follows/", {
        "model_name": "fraud-gbm", "tracking_uri": "https://mlflow.example.com",
        "metric_criteria": "auc benchmark gte 0.9\n\np95_latency_ms latency lte 300\n",
    })  # fmt: skip
    assert response.status_code == 302
    assert ModelFollow.objects.get().metric_criteria["p95_latency_ms"]["comparison"] == "lte"
    bad = client.post("/systems/fraud/intake/follows/", {
        "model_name": "other", "tracking_uri": "https://mlflow.example.com",
        "metric_criteria": "auc benchmark",
    })  # fmt: skip
    assert bad.status_code == 400 and b"four words" in bad.content
    assert ModelFollow.objects.count() == 1


# --- the webhook -----------------------------------------------------------------------------


def test_a_signed_delivery_is_recorded_once_and_schedules_one_import(
    client, fraud, follow, webhook_secret, django_capture_on_commit_callbacks
):
    stored, secret = webhook_secret
    with mock.patch.object(intake.deliveries, "_send_import") as send:
        with django_capture_on_commit_callbacks(execute=True):
            first = deliver(client, secret, envelope(), delivery_id="d-1")
        with django_capture_on_commit_callbacks(execute=True):
            replay = deliver(client, secret, envelope(), delivery_id="d-1")
        with django_capture_on_commit_callbacks(execute=True):
            again = deliver(client, secret, envelope(), delivery_id="d-2")
    assert first.status_code == 202, first.content
    assert replay.status_code == 200 and "Replayed" in replay.json()["detail"]
    assert again.status_code == 202  # a new delivery of a version not yet imported
    assert WebhookDelivery.objects.count() == 2
    assert RegistryVersion.objects.count() == 1
    assert send.call_count == 2  # the import runs once: the second finds it done
    event = AuditEvent.objects.filter(action="mlflow.delivery_received").first()
    assert event is not None and event.actor_id is None and event.actor_name == "system"
    assert event.credential.startswith(f"MLflow webhook secret {stored.prefix}…")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.parametrize(
    "tamper",
    ["forged", "stale", "future", "revoked", "unsigned", "other system", "other body", "bad b64"],
)
def test_a_delivery_not_signed_now_by_a_live_secret_is_refused(
    client, owner, fraud, follow, webhook_secret, other_system, tamper
):
    stored, secret = webhook_secret
    payload, kwargs = envelope(), {}
    if tamper == "forged":
        secret = "fsw_" + "x" * 43
    elif tamper == "stale":
        kwargs["timestamp"] = int(time.time()) - 301
    elif tamper == "future":
        # Well past the five minutes: a future stamp comes closer while a loaded machine
        # takes its time to check it.
        kwargs["timestamp"] = int(time.time()) + 330
    elif tamper == "revoked":
        services.revoke_webhook_secret(actor=owner, secret=stored)
    elif tamper == "other system":
        kwargs["path"] = "/api/intake/mlflow/hidden/"
    with mock.patch.object(intake.deliveries, "_send_import") as send:
        if tamper == "unsigned":
            response = client.post(WEBHOOK, data=json.dumps(payload),
                                   content_type="application/json")  # fmt: skip
        elif tamper == "other body":
            body = json.dumps(payload).encode()
            stamp, delivery = str(int(time.time())), "d-x"
            response = client.post(
                WEBHOOK, data=body.replace(b'"3"', b'"4"'), content_type="application/json",
                headers={"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
                         "X-MLflow-Signature": sign(secret, delivery, stamp, body)},
            )  # fmt: skip
        elif tamper == "bad b64":
            response = client.post(
                WEBHOOK, data=json.dumps(payload), content_type="application/json",
                headers={"X-MLflow-Delivery-Id": "d", "X-MLflow-Timestamp": str(int(time.time())),
                         "X-MLflow-Signature": "v1,@@@not base64"},
            )  # fmt: skip
        else:
            response = deliver(client, secret, payload, **kwargs)
    assert response.status_code == 401, response.content
    assert response.json()["detail"]
    assert "WWW-Authenticate" in response
    assert not WebhookDelivery.objects.exists() and not RegistryVersion.objects.exists()
    assert not send.called


def test_deliveries_about_nothing_followed_are_answered_and_not_kept(
    client, fraud, follow, webhook_secret
):
    _, secret = webhook_secret
    for payload in (envelope(name="other-model"), envelope(entity="registered_model"),
                    envelope(entity="prompt", action="created")):  # fmt: skip
        response = deliver(client, secret, payload)
        assert response.status_code == 200 and response.json()["delivery"] is None
    alias = deliver(client, secret, envelope(entity="model_version_alias", alias="champion"))
    assert alias.status_code == 200 and alias.json()["delivery"] is not None
    assert WebhookDelivery.objects.get().status == "recorded"
    assert not RegistryVersion.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"entity": "model_version"}).encode(), 400),
        (json.dumps(envelope(version="three")).encode(), 400),
        (json.dumps(envelope(name="n" * 201)).encode(), 400),
        (json.dumps(envelope(name="bad\u0000name")).encode(), 400),
        (b'{"a":' * 40 + b"1" + b"}" * 40, 400),
        (b"[" * 10_000 + b"]" * 10_000, 400),
    ],
)
def test_a_signed_body_that_cannot_be_read_is_a_400_and_changes_nothing(
    client, fraud, follow, webhook_secret, body, status
):
    _, secret = webhook_secret
    response = deliver(client, secret, None, raw=body)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert not WebhookDelivery.objects.exists() and not RegistryVersion.objects.exists()


def test_a_huge_delivery_is_refused_before_it_is_read(
    client, fraud, follow, webhook_secret, settings
):
    _, secret = webhook_secret
    body = json.dumps(envelope(description="x" * 300_000)).encode()
    response = deliver(client, secret, None, raw=body)
    assert response.status_code == 413 and response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


# --- the import ------------------------------------------------------------------------------


def test_a_new_version_becomes_a_draft_prefilled_from_the_live_release(
    fraud, follow, live_release, registry
):
    found = import_version(fraud)
    assert found.status == ImportStatus.IMPORTED, found.error
    release = found.release
    assert release is not None and release.status == "draft" and release.author is None
    assert release.version == "fraud-gbm-v3"
    before = {c.kind: c for c in live_release.components.all()}
    after = {c.kind: c for c in release.components.all()}
    for kind in ComponentKind:
        if kind == ComponentKind.MODEL:
            model = after[kind]
            assert (model.uri, model.version, model.digest) == (
                "models:/fraud-gbm/3", "3", MLMODEL_DIGEST,
            )  # fmt: skip
        else:
            assert (after[kind].uri, after[kind].digest) == (before[kind].uri, before[kind].digest)
    assert release.change_categories == []  # a retrain of the same model: nothing by itself
    assert release.what_changed.startswith(TO_REVIEW) and "version 3 (run run3)" in (
        release.what_changed
    )
    assert release.data_used == TO_REVIEW + live_release.data_used
    assert release.stack_digest == stack_digest(
        [{"kind": c.kind, "version": c.version, "uri": c.uri, "digest": c.digest}
         for c in release.components.all()]
    )  # fmt: skip
    checks = {c.criterion: c for c in GateCheck.objects.filter(release=release)}
    assert set(checks) == {"benchmark", "latency"}
    assert checks["benchmark"].measured_value == Decimal("0.93") and checks["benchmark"].passed
    assert checks["latency"].measured_value == Decimal("412") and not checks["latency"].passed
    assert checks["benchmark"].recorded_by is None
    assert (
        checks["benchmark"].evidence_uri == "https://mlflow.example.com/#/experiments/0/runs/run3"
    )
    assert found.unmapped_metrics == {"loss": 0.21, "odd": "nan"}
    created = AuditEvent.objects.get(action="release.created", object_id=str(release.pk))
    assert created.actor_id is None and created.credential == "MLflow intake fraud-gbm v3"
    assert created.after["registered_from"]["base"] == live_release.version
    assert AuditEvent.objects.filter(action="gate.recorded", actor_id=None).count() == 2


def test_the_same_version_twice_is_one_release(fraud, follow, live_release, registry):
    first = import_version(fraud)
    second = import_version(fraud)
    assert first.release_id == second.release_id
    assert Release.objects.filter(version="fraud-gbm-v3").count() == 1
    assert registry.calls == 1  # an imported version is not even read again


def test_the_first_environment_is_production_else_the_first_by_name(owner, fraud):
    canary = services.create_environment(actor=owner, system=fraud, name="Canary")
    services.create_environment(actor=owner, system=fraud, name="Staging")
    assert prefill.first_environment(fraud) == canary
    production = services.create_environment(
        actor=owner, system=fraud, name="Production", is_production=True
    )
    assert prefill.first_environment(fraud) == production


def test_without_a_live_release_the_latest_release_is_the_base(fraud, follow, draft, registry):
    found = import_version(fraud)
    assert found.status == ImportStatus.IMPORTED
    created = AuditEvent.objects.get(action="release.created", object_id=str(found.release_id))
    assert created.after["registered_from"]["base"] == draft.version


def test_a_system_without_any_release_fails_the_import_saying_why(fraud, follow, registry):
    found = import_version(fraud)
    assert found.status == ImportStatus.FAILED and "register its first release" in found.error
    assert not Release.objects.exists()
    assert AuditEvent.objects.filter(action="mlflow.import_failed", system=fraud).exists()


def test_mlflow_failing_for_good_fails_the_import_and_a_new_delivery_tries_again(
    client, fraud, follow, live_release, registry, webhook_secret
):
    from releases.backends.base import BackendError
    from releases.tasks import import_model_version as task

    registry.answer = BackendError("MLflow refused the read (HTTP 403): PERMISSION_DENIED")
    found, _ = RegistryVersion.objects.get_or_create(system=fraud, model_name="fraud-gbm",
                                                     version="3")  # fmt: skip
    assert task.apply(args=[found.pk]).get() == ImportStatus.FAILED
    found.refresh_from_db()
    assert "PERMISSION_DENIED" in found.error
    registry.answer = None
    _, secret = webhook_secret
    with mock.patch.object(intake.deliveries, "_send_import"):
        deliver(client, secret, envelope(entity="model_version_tag", action="set", key="k"))
    found.refresh_from_db()
    assert found.status == ImportStatus.PENDING
    assert import_version(fraud).status == ImportStatus.IMPORTED


def test_the_task_retries_what_mlflow_fails_for_now(fraud, follow, live_release, registry):
    from celery.exceptions import Retry

    from releases.backends.base import BackendError
    from releases.tasks import import_model_version as task

    registry.answer = BackendError("MLflow at … is unreachable", transient=True)
    found, _ = RegistryVersion.objects.get_or_create(system=fraud, model_name="fraud-gbm",
                                                     version="3")  # fmt: skip
    with (
        mock.patch.object(task, "retry", side_effect=Retry("again")) as retry,
        pytest.raises(Retry),
    ):
        task.run(found.pk)
    assert retry.called and RegistryVersion.objects.get().status == ImportStatus.PENDING


def test_the_model_owner_who_completes_the_card_becomes_its_author(
    fraud, follow, live_release, registry, model_owner, release_manager
):
    release = import_version(fraud).release
    assert release is not None
    assert any("[To review]" in problem for problem in submission_problems(release))
    card = {name: value.removeprefix(TO_REVIEW) for name, value in CARD.items()}
    components = [
        {"kind": c.kind, "version": c.version, "uri": c.uri, "digest": c.digest}
        for c in release.components.all()
    ]
    services.update_release(actor=model_owner, release=release, title=release.title, card=card,
                            components=components)  # fmt: skip
    release.refresh_from_db()
    assert release.author == model_owner
    assert not any("[To review]" in problem for problem in submission_problems(release))
    updated = AuditEvent.objects.filter(action="release.updated").latest("id")
    assert updated.before["author"] is None and updated.after["author"] == model_owner.username
    # The intake's readings bar nobody from approving; the author is barred.
    from releases.services.approvals import approval_conflicts

    assert approval_conflicts(release_manager, release) is None
    assert approval_conflicts(model_owner, release) is not None


def test_automation_records_evidence_only_on_the_intakes_own_draft(draft):
    with pytest.raises(Exception, match="registry intake registered"):
        services.record_gate_check(
            actor=None, release=draft, criterion="benchmark", comparison="gte",
            measured_value=Decimal(1), target=Decimal(1), evidence_uri="https://e.example.com",
        )  # fmt: skip


# --- suggested categories ----------------------------------------------------------------------


def _changed(
    base: list[dict[str, str]], kind: ComponentKind, **fields: str
) -> list[dict[str, str]]:
    return [{**c, **fields} if c["kind"] == kind else c for c in base]


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        (ComponentKind.FUSION, {"digest": "f" * 64}, [ChangeCategory.NEW_FUSION_LOGIC]),
        (ComponentKind.THRESHOLD_POLICY, {"version": "tp-2"},
         [ChangeCategory.THRESHOLD_POLICY_UPDATE]),
        (ComponentKind.SDK, {"version": "3.0.0"}, [ChangeCategory.SDK_MAJOR_CHANGE]),
        (ComponentKind.DATASET, {"uri": "s3://d/2"}, [ChangeCategory.MAJOR_DATASET_REFRESH]),
        (ComponentKind.MODEL, {"uri": "models:/fraud-gbm/4"}, []),
        (ComponentKind.MODEL, {"uri": "models:/fraud-transformer/1"},
         [ChangeCategory.NEW_ARCHITECTURE]),
        (ComponentKind.EVALUATION, {"digest": "e" * 64}, []),
    ],
)  # fmt: skip
def test_categories_are_suggested_from_the_stack_diff(kind, fields, expected):
    base = _changed(stack("2.0.0"), ComponentKind.SDK, version="2.4.1")
    base = _changed(base, ComponentKind.MODEL, uri="models:/fraud-gbm/3")
    assert suggest_categories(base, _changed(base, kind, **fields)) == expected


def test_a_minor_sdk_change_or_other_flavors_say_so():
    base = _changed(stack("2.0.0"), ComponentKind.SDK, version="2.4.1")
    assert suggest_categories(base, _changed(base, ComponentKind.SDK, version="2.5.0")) == []
    other = _changed(base, ComponentKind.MODEL, digest="9" * 64)
    assert suggest_categories(base, other, flavors=(["sklearn"], ["pytorch"])) == [
        ChangeCategory.NEW_ARCHITECTURE
    ]
    assert suggest_categories(None, base) == []


# --- POST /api/releases/ is idempotent on the stack ------------------------------------------


NEW = {"system": "fraud", "version": "9.0.0", "title": "CI build", "card": CARD,
       "components": stack("9.0.0")}  # fmt: skip


def test_the_same_stack_posted_twice_is_one_release(client, model_owner, fraud):
    client.force_login(model_owner)
    first = client.post("/api/releases/", NEW, content_type="application/json")
    assert first.status_code == 201, first.content
    again = client.post("/api/releases/", {**NEW, "title": "CI build (retry)"},
                        content_type="application/json")  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["title"] == "CI build"  # the first release, as it is
    assert Release.objects.count() == 1
    assert AuditEvent.objects.filter(action="release.created").count() == 1


def test_the_same_stack_under_another_version_is_a_conflict_naming_the_release(
    client, model_owner, fraud
):
    client.force_login(model_owner)
    first = client.post("/api/releases/", NEW, content_type="application/json").json()
    # Digests in capitals or with the sha256: prefix are the same stack.
    components = [{**c, "digest": "sha256:" + c["digest"].upper()} for c in NEW["components"]]
    response = client.post("/api/releases/", {**NEW, "version": "9.0.1", "components": components},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 409
    assert response.json()["release"]["id"] == first["id"]
    assert response.json()["release"]["version"] == "9.0.0"
    assert "9.0.0" in response.json()["detail"]
    assert Release.objects.count() == 1


def test_a_new_stack_under_a_taken_version_is_still_a_400(client, model_owner, fraud):
    client.force_login(model_owner)
    client.post("/api/releases/", NEW, content_type="application/json")
    response = client.post("/api/releases/", {**NEW, "components": stack("9.0.1")},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 400 and "already has a release" in response.content.decode()


def test_an_edited_draft_is_found_by_its_new_stack(client, model_owner, fraud):
    client.force_login(model_owner)
    created = client.post("/api/releases/", NEW, content_type="application/json").json()
    edited = {"title": "t", "card": CARD, "components": stack("9.0.2")}
    assert client.put(f"/api/releases/{created['id']}/", edited,
                      content_type="application/json").status_code == 200  # fmt: skip
    again = client.post("/api/releases/", {**NEW, "components": stack("9.0.2")},
                        content_type="application/json")  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == created["id"]


def test_a_replay_still_needs_the_right_to_register(client, model_owner, viewer, fraud):
    client.force_login(model_owner)
    client.post("/api/releases/", NEW, content_type="application/json")
    client.force_login(viewer)
    assert client.post("/api/releases/", NEW, content_type="application/json").status_code == 403


# --- hostile input: every new text field at its cap, in any script ----------------------------


WIDE = "字"


def test_every_new_text_field_takes_its_cap_in_any_script_and_refuses_one_more(
    client, owner, fraud
):
    client.force_login(owner)
    name = WIDE * 80
    assert client.post("/api/systems/fraud/webhook-secrets/", {"name": name},
                       content_type="application/json").status_code == 201  # fmt: skip
    assert client.post("/api/systems/fraud/webhook-secrets/", {"name": name + WIDE},
                       content_type="application/json").status_code == 400  # fmt: skip
    model = "м" * 200
    metric = "метрика" + "指" * 243
    body = {"model_name": model, "tracking_uri": "https://mlflow.example.com/" + "p" * 473,
            "metric_criteria": {metric: {"criterion": "benchmark", "comparison": "gte",
                                         "target": "0.5"}}}  # fmt: skip
    assert len(body["tracking_uri"]) == 500 and len(metric) == 250
    created = client.post("/api/systems/fraud/model-follows/", body,
                          content_type="application/json")  # fmt: skip
    assert created.status_code == 201, created.content
    longer_metric = {metric + "x": body["metric_criteria"][metric]}
    for too_long in (
        {"model_name": model + "м"},
        {"tracking_uri": body["tracking_uri"] + "p"},
        {"metric_criteria": longer_metric},
    ):
        response = client.post("/api/systems/fraud/model-follows/",
                               {**body, "model_name": "other", **too_long},
                               content_type="application/json")  # fmt: skip
        assert response.status_code == 400, (too_long.keys(), response.content)
    assert ModelFollow.objects.count() == 1
    page = client.get("/systems/fraud/intake/")
    assert page.status_code == 200 and model in page.content.decode()


def test_the_page_forms_refuse_what_is_over_the_caps(client, owner, fraud):
    client.force_login(owner)
    assert client.post("/systems/fraud/intake/secrets/", {"name": "x" * 81}).status_code == 400
    response = client.post("/systems/fraud/intake/follows/", {
        "model_name": "m" * 201, "tracking_uri": "ftp://mlflow", "metric_criteria": "a" * 2001,
    })  # fmt: skip
    assert response.status_code == 400
    assert not WebhookSecret.objects.exists() and not ModelFollow.objects.exists()


def test_malformed_json_to_the_management_api_is_a_400(client, owner, fraud):
    client.force_login(owner)
    for path in ("/api/systems/fraud/webhook-secrets/", "/api/systems/fraud/model-follows/"):
        response = client.post(path, data="{oops", content_type="application/json")
        assert response.status_code == 400 and response["Content-Type"].startswith(
            "application/json"
        )
    response = client.post(
        "/api/systems/fraud/model-follows/", {"model_name": "m", "tracking_uri": 5},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert not WebhookSecret.objects.exists() and not ModelFollow.objects.exists()


def test_the_intake_page_costs_the_same_with_more_arrivals(
    client, owner, fraud, follow, webhook_secret
):
    client.force_login(owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/systems/fraud/intake/").status_code == 200
        return len(queries)

    stored, _ = webhook_secret
    RegistryVersion.objects.create(system=fraud, model_name="fraud-gbm", version="1")
    few = count()
    for n in range(2, 12):
        RegistryVersion.objects.create(system=fraud, model_name="fraud-gbm", version=str(n))
        WebhookDelivery.objects.create(system=fraud, delivery_id=f"d{n}", secret=stored,
                                       event="model_version.created", model_name="fraud-gbm",
                                       model_version=str(n), status="importing")  # fmt: skip
    assert count() == few


# --- the role matrix -------------------------------------------------------------------------


PAGE = "/systems/fraud/intake/"
API_SECRETS = "/api/systems/fraud/webhook-secrets/"
API_FOLLOWS = "/api/systems/fraud/model-follows/"
FOLLOW = {"model_name": "fraud-xgb", "tracking_uri": "https://mlflow.example.com"}
ROUTES = [
    Route("intake page", "GET", PAGE, OWNERS),
    Route("create a webhook secret by form", "POST", f"{PAGE}secrets/", OWNERS, ok=201,
          data={"name": "MLflow"}),
    Route("confirm revoking a webhook secret", "GET", PAGE + "secrets/{secret}/revoke/", OWNERS),
    Route("revoke a webhook secret by form", "POST", PAGE + "secrets/{secret}/revoke/", OWNERS,
          ok=302),
    Route("follow a model by form", "POST", f"{PAGE}follows/", OWNERS, ok=302, data=FOLLOW),
    Route("change a follow by form", "POST", PAGE + "follows/{follow}/", OWNERS, ok=302,
          data={"tracking_uri": "https://mlflow2.example.com", "metric_criteria": ""}),
    Route("stop following by form", "POST", PAGE + "follows/{follow}/delete/", OWNERS, ok=302),
    Route("api webhook secrets", "GET", API_SECRETS, OWNERS, api=True),
    Route("api create a webhook secret", "POST", API_SECRETS, OWNERS, ok=201, api=True,
          data={"name": "MLflow"}),
    Route("api revoke a webhook secret", "POST", API_SECRETS + "{secret}/revoke/", OWNERS,
          api=True),
    Route("api follows", "GET", API_FOLLOWS, OWNERS, api=True),
    Route("api follow a model", "POST", API_FOLLOWS, OWNERS, ok=201, api=True, data=FOLLOW),
    Route("api follow", "GET", API_FOLLOWS + "{follow}/", OWNERS, api=True),
    Route("api change a follow", "PUT", API_FOLLOWS + "{follow}/", OWNERS, api=True,
          data={"tracking_uri": "https://mlflow2.example.com"}),
    Route("api stop following", "DELETE", API_FOLLOWS + "{follow}/", OWNERS, ok=204, api=True),
    # MLflow's door: a signature, never a person's session (tests above sign deliveries).
    Route("mlflow webhook", "POST", "/api/intake/mlflow/fraud/", frozenset(), refused=401,
          outsider=401, api=True, data=envelope()),
]  # fmt: skip


@pytest.mark.django_db
def test_the_sweep_sends_again_only_the_imports_nobody_ran(fraud, settings):  # type: ignore[no-untyped-def]
    """A delivery whose import never reached a worker (the broker was down) is not lost."""
    settings.IMPORT_REQUEUE_SECONDS = 60
    stale = RegistryVersion.objects.create(system=fraud, model_name="fraud-gbm", version="7")
    fresh = RegistryVersion.objects.create(system=fraud, model_name="fraud-gbm", version="8")
    failed = RegistryVersion.objects.create(
        system=fraud, model_name="fraud-gbm", version="6", status="failed", error="No MLmodel."
    )
    long_ago = timezone.now() - timedelta(minutes=5)
    RegistryVersion.objects.filter(pk__in=[stale.pk, failed.pk]).update(updated_at=long_ago)
    with mock.patch.object(intake.deliveries, "_send_import") as send:
        assert intake.sweep_imports() == 1
    send.assert_called_once_with(stale.pk)
    assert fresh.pk != stale.pk


# --- an alias moved: the drift reconcile of the environments it serves --------------------


ALIAS_ENTITY = "model_version_alias"


def test_an_alias_delivery_reconciles_the_mlflow_environments_it_serves(
    client, fraud, owner, production, staging, webhook_secret, django_capture_on_commit_callbacks
):
    _, secret = webhook_secret
    for environment, alias in ((production, "champion"), (staging, "challenger")):
        environment.backend_type = BackendType.MLFLOW
        environment.backend_config = {"tracking_uri": "https://mlflow.example.com",
                                      "model_name": "fraud-gbm", "alias": alias}  # fmt: skip
        environment.save()
    with mock.patch("releases.drift.schedule_reconcile") as schedule:
        with django_capture_on_commit_callbacks(execute=True):
            moved = deliver(
                client, secret, envelope(entity="model_version_alias", alias="champion")
            )
        with django_capture_on_commit_callbacks(execute=True):
            unserved = envelope(name="other-model", entity="model_version_alias", alias="champion")
            other = deliver(client, secret, unserved)
    assert moved.status_code == 200 and "reconcile of 1 environment" in moved.json()["detail"]
    schedule.assert_called_once_with([production.pk])  # not followed, but served: recorded
    assert WebhookDelivery.objects.get().event == "model_version_alias.created"
    assert other.json()["delivery"] is None  # neither followed nor served

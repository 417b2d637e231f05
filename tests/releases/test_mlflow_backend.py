"""The MLflow backend against a real MLflow tracking server (tests/fixtures/mlflow_server.py)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governance.people import person_label
from incidents import services as incidents
from releases import rollbacks, services
from releases.backends.base import BackendError, RollbackContext
from releases.backends.mlflow import (
    TAG_IDEMPOTENCY_KEY,
    TAG_INCIDENT,
    TAG_REASON,
    TAG_RELEASE,
    TAG_REPLACED,
    TAG_REQUESTED_BY,
    MlflowBackend,
)
from releases.models import BackendType, ComponentKind, RollbackStatus, RolloutStage
from tests.fixtures.mlflow_server import free_port
from tests.fixtures.releases import go_live, pass_every_gate, stack

ALIAS = "champion"
# What the rollback service passes: the presser's reason, who pressed, the incident served.
CONTEXT = RollbackContext(
    reason="Review rate above 2.5 % for 15 minutes.",
    requested_by="Rob Stone (rob)",
    incident="INC-42",
    incident_title="Review rate tripled",
)


@pytest.fixture
def model(mlflow_server):
    """A registered model of its own per test (the server lives for the session), with
    versions 1, 2 and 3."""
    name = mlflow_server.create_registered_model(f"fraud-gbm-{uuid.uuid4().hex[:8]}")
    versions = [mlflow_server.create_model_version(name) for _ in range(3)]
    assert versions == ["1", "2", "3"]
    return name


def configure(environment, *, tracking_uri, model_name, token=None):  # type: ignore[no-untyped-def]
    environment.backend_type = BackendType.MLFLOW
    environment.backend_config = {
        "tracking_uri": tracking_uri,
        "model_name": model_name,
        "alias": ALIAS,
        "timeout_seconds": 5,
    }
    environment.backend_secrets = {"token": token} if token else {}
    environment.save()
    return environment


@pytest.fixture
def backend(production, mlflow_server, model):
    return MlflowBackend(configure(production, tracking_uri=mlflow_server.url, model_name=model))


@pytest.fixture
def release_of(make_release, model):
    """A release whose model component is `models:/<model>/<n>` (or any URI/version given)."""

    def make(version: str, model_version: int | None = None, *, uri=None, model_version_field=None):  # type: ignore[no-untyped-def]
        components = stack(version)
        for component in components:
            if component["kind"] == ComponentKind.MODEL:
                if uri is None:
                    uri = f"models:/{model}/{model_version}"
                component["uri"] = uri
                component["version"] = model_version_field or component["version"]
        return make_release(version, components=components)

    return make


@pytest.fixture
def live_two(mlflow_server, model, backend, release_of):
    """Release 2.0.0 (model version 2) made live by a general-release deploy."""
    release = release_of("2.0.0", 2)
    result = backend.deploy(
        release=release, stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        idempotency_key="deploy-2.0.0",
    )  # fmt: skip
    assert result.accepted and mlflow_server.alias_version(model, ALIAS) == "2"
    return release


def test_it_rolls_back_by_moving_the_alias_and_tagging_the_version(
    mlflow_server, model, backend, release_of, live_two
):
    target = release_of("1.9.0", 1)

    result = backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="rollback-key-1",
        context=CONTEXT,
    )  # fmt: skip

    assert result.accepted
    assert result.detail == {
        "from_release": "2.0.0",
        "model_name": model,
        "alias": ALIAS,
        "model_version": 1,
        "release": "1.9.0",
        "replaced_model_version": 2,
        "replayed": False,
    }
    assert mlflow_server.alias_version(model, ALIAS) == "1"
    assert mlflow_server.tags(model, "1") == {
        TAG_RELEASE: "1.9.0",
        TAG_REASON: "Review rate above 2.5 % for 15 minutes.",
        TAG_REQUESTED_BY: "Rob Stone (rob)",
        TAG_INCIDENT: "INC-42 Review rate tripled",
        TAG_REPLACED: "2",
        TAG_IDEMPOTENCY_KEY: "rollback-key-1",
    }
    # The version it left keeps its own record.
    assert mlflow_server.tags(model, "2")[TAG_RELEASE] == "2.0.0"


@pytest.fixture
def gone_live(  # type: ignore[no-untyped-def]
    backend, release_of, model_owner, release_manager, second_approver, production, rollback_owner
):
    """A release of model version n taken through the whole flow (gates, plan, two approvals)
    to general release in production, which moves the alias in MLflow."""

    def make(version: str, model_version: int):  # type: ignore[no-untyped-def]
        release = release_of(version, model_version)
        pass_every_gate(release, model_owner)
        services.save_rollback_plan(
            actor=model_owner, release=release, environment=production, owners=[rollback_owner],
            mode="manual", cooldown_minutes=30, triggers=[],
        )  # fmt: skip
        services.submit_release(actor=model_owner, release=release)
        for approver in (release_manager, second_approver):
            services.record_approval(
                actor=approver, release=release, decision="approve", comment="ok"
            )
        go_live(release, release_manager, production)
        return release

    return make


def test_the_rollback_service_tags_the_version_with_the_pressers_reason_and_the_incident(
    mlflow_server, model, gone_live, fraud, production, oncall_lead, rollback_owner
):
    gone_live("1.9.0", 1)
    gone_live("2.0.0", 2)
    assert mlflow_server.alias_version(model, ALIAS) == "2"
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x since 2.0.0 went out."
    )

    assert rollbacks.run_rollback(request_id=request.pk).status == RollbackStatus.SUCCEEDED

    assert mlflow_server.alias_version(model, ALIAS) == "1"
    assert mlflow_server.tags(model, "1") == {
        TAG_RELEASE: "1.9.0",
        TAG_REASON: "Review rate 3x since 2.0.0 went out.",
        TAG_REQUESTED_BY: person_label(rollback_owner),
        TAG_INCIDENT: f"INC-{incident.pk} Review rate tripled",
        TAG_REPLACED: "2",
        TAG_IDEMPOTENCY_KEY: request.idempotency_key,
    }


def test_a_later_change_for_no_incident_leaves_no_earlier_incident_on_the_version(
    mlflow_server, model, backend, release_of, live_two
):
    target = release_of("1.9.0", 1)
    backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="k-1", context=CONTEXT
    )
    backend.deploy(
        release=live_two, stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        idempotency_key="deploy-2.0.0-again",
    )  # fmt: skip
    by_the_plan = RollbackContext(reason="p95_latency_ms > 300 for 5 min", requested_by="plan")

    backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="k-2", context=by_the_plan
    )

    tags = mlflow_server.tags(model, "1")
    assert tags[TAG_REASON] == "p95_latency_ms > 300 for 5 min"
    assert tags[TAG_REQUESTED_BY] == "plan"
    assert TAG_INCIDENT not in tags
    assert mlflow_server.alias_version(model, ALIAS) == "1"


def test_a_blank_reason_is_replaced_by_one_that_names_both_releases(
    mlflow_server, model, backend, release_of, live_two
):
    backend.rollback(
        from_release=live_two, to_release=release_of("1.9.0", 1), idempotency_key="k",
        context=RollbackContext(reason=" ", requested_by="plan"),
    )  # fmt: skip

    assert mlflow_server.tags(model, "1")[TAG_REASON] == "Rollback from 2.0.0 to 1.9.0."


def test_a_replayed_rollback_changes_nothing(mlflow_server, model, backend, release_of, live_two):
    target = release_of("1.9.0", 1)
    backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="rollback-key-1", context=CONTEXT
    )
    # A write the replay would redo if it were not recognised as one:
    mlflow_server.call(
        "POST", "model-versions/set-tag",
        {"name": model, "version": "1", "key": TAG_REASON, "value": "untouched"},
    )  # fmt: skip

    replay = backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="rollback-key-1", context=CONTEXT
    )

    assert replay.accepted and replay.detail["replayed"] is True
    assert mlflow_server.alias_version(model, ALIAS) == "1"
    assert mlflow_server.tags(model, "1")[TAG_REASON] == "untouched"


def test_a_late_replay_does_not_undo_a_later_change(
    mlflow_server, model, backend, release_of, live_two
):
    target = release_of("1.9.0", 1)
    backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="rollback-key-1", context=CONTEXT
    )
    backend.deploy(
        release=release_of("2.1.0", 3), stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        idempotency_key="deploy-2.1.0",
    )  # fmt: skip

    replay = backend.rollback(
        from_release=live_two, to_release=target, idempotency_key="rollback-key-1", context=CONTEXT
    )

    assert replay.detail["replayed"] is True
    assert mlflow_server.alias_version(model, ALIAS) == "3"


def test_a_rollback_interrupted_before_its_key_was_written_is_completed(
    mlflow_server, model, backend, release_of, live_two
):
    # As if the worker died after moving the alias, before the last tag.
    mlflow_server.call(
        "POST", "registered-models/alias", {"name": model, "alias": ALIAS, "version": "1"}
    )

    result = backend.rollback(
        from_release=live_two,
        to_release=release_of("1.9.0", 1),
        idempotency_key="k-2",
        context=CONTEXT,
    )

    assert result.detail["replayed"] is False
    assert mlflow_server.tags(model, "1")[TAG_IDEMPOTENCY_KEY] == "k-2"
    assert backend.status().live_version == "1.9.0"


def test_status_reports_the_release_the_alias_points_at(backend, release_of, live_two):
    before = backend.status()
    backend.rollback(
        from_release=live_two,
        to_release=release_of("1.9.0", 1),
        idempotency_key="k",
        context=CONTEXT,
    )
    after = backend.status()

    assert before.live_version == "2.0.0"
    assert (after.live_version, after.stage, after.traffic_percent) == (
        "1.9.0", RolloutStage.GENERAL_RELEASE, 100.0,
    )  # fmt: skip
    assert after.detail["model_version"] == 1 and after.detail["alias"] == ALIAS


def test_status_without_the_alias_reports_nothing_live(backend, model):
    state = backend.status()

    assert state.live_version is None
    assert state.detail == {"model_name": model, "alias": ALIAS, "model_version": None}


def test_status_of_a_version_failsafe_never_tagged_names_only_the_version(
    mlflow_server, model, backend
):
    mlflow_server.call(
        "POST", "registered-models/alias", {"name": model, "alias": ALIAS, "version": "3"}
    )

    state = backend.status()

    assert state.live_version is None and state.detail["model_version"] == 3


def test_only_the_general_release_moves_the_alias(mlflow_server, model, backend, release_of):
    result = backend.deploy(
        release=release_of("2.0.0", 2), stage=RolloutStage.SHADOW, traffic_percent=5,
        idempotency_key="shadow",
    )  # fmt: skip

    assert result.accepted and result.detail["applied"] is False
    assert "no traffic split" in result.detail["reason"]
    assert mlflow_server.alias_version(model, ALIAS) is None
    assert TAG_RELEASE not in mlflow_server.tags(model, "2")


def test_the_model_version_can_come_from_the_component_version(
    mlflow_server, model, backend, release_of
):
    release = release_of("2.0.0", uri="s3://models/fraud/model/2.0.0", model_version_field="2")

    backend.deploy(
        release=release, stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        idempotency_key="deploy",
    )  # fmt: skip

    assert mlflow_server.alias_version(model, ALIAS) == "2"


def test_an_unknown_model_version_is_a_permanent_error(
    mlflow_server, model, backend, release_of, live_two
):
    with pytest.raises(BackendError) as error:
        backend.rollback(
            from_release=live_two,
            to_release=release_of("1.0.0", 99),
            idempotency_key="k",
            context=CONTEXT,
        )

    assert error.value.transient is False
    assert "HTTP 404" in str(error.value) and "RESOURCE_DOES_NOT_EXIST" in str(error.value)
    assert mlflow_server.alias_version(model, ALIAS) == "2"


def test_an_unknown_registered_model_is_a_permanent_error(production, mlflow_server):
    backend = MlflowBackend(
        configure(production, tracking_uri=mlflow_server.url, model_name="no-such-model")
    )

    with pytest.raises(BackendError) as error:
        backend.status()

    assert error.value.transient is False and "RESOURCE_DOES_NOT_EXIST" in str(error.value)


@pytest.mark.parametrize(
    ("uri", "version", "problem"),
    [
        ("models:/another-model/1", "1", "names registered model 'another-model'"),
        ("models:/{model}@champion", "model-2.0.0", "is not models:/"),
        ("s3://models/fraud/model/2.0.0", "2.0.0", "is not a version number"),
    ],
)
def test_a_release_that_names_no_version_of_the_model_is_a_permanent_error(
    backend, release_of, model, uri, version, problem
):
    release = release_of("2.0.0", uri=uri.format(model=model), model_version_field=version)

    with pytest.raises(BackendError) as error:
        backend.rollback(
            from_release=None, to_release=release, idempotency_key="k", context=CONTEXT
        )

    assert error.value.transient is False and problem in str(error.value)


def test_a_server_that_is_down_is_a_transient_error(production, model, release_of):
    backend = MlflowBackend(
        configure(production, tracking_uri=f"http://127.0.0.1:{free_port()}", model_name=model)
    )

    for call in (
        backend.status,
        lambda: backend.rollback(
            from_release=None,
            to_release=release_of("1.9.0", 1),
            idempotency_key="k",
            context=CONTEXT,
        ),
    ):
        with pytest.raises(BackendError) as error:
            call()
        assert error.value.transient is True and "unreachable" in str(error.value)


class _Unavailable(BaseHTTPRequestHandler):
    """A proxy in front of MLflow that answers 503 and remembers the Authorization header."""

    seen: list[str | None]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "overloaded"})
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def unavailable() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    handler = type("Handler", (_Unavailable,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_5xx_is_a_transient_error_and_the_token_is_sent(production, unavailable):
    url, seen = unavailable
    backend = MlflowBackend(
        configure(production, tracking_uri=url, model_name="fraud-gbm", token="s3cret")
    )

    with pytest.raises(BackendError) as error:
        backend.status()

    assert error.value.transient is True
    assert "HTTP 503" in str(error.value) and "TEMPORARILY_UNAVAILABLE" in str(error.value)
    assert seen == ["Bearer s3cret"]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"model_name": "m", "alias": "a"}, "tracking_uri is missing"),
        ({"tracking_uri": "databricks", "model_name": "m", "alias": "a"}, "http(s) URL"),
        ({"tracking_uri": "http://x", "alias": "a"}, "model_name is missing"),
        ({"tracking_uri": "http://x", "model_name": "m", "alias": "latest"}, "reserved"),
        ({"tracking_uri": "http://x", "model_name": "m", "alias": "a", "timeout_seconds": True},
         "must be a number"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_a_permanent_error(production, config, problem):
    production.backend_config = config

    with pytest.raises(BackendError) as error:
        MlflowBackend(production)

    assert error.value.transient is False and problem in str(error.value)

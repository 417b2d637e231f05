"""The Argo Rollouts backend against recorded contracts (tests/releases/contracts/argo/*.json).

No Kubernetes cluster runs here. Each contract holds the exact requests the backend must make
(method, path, query, the headers that matter, JSON body) in order, and the answers an API
server with Argo Rollouts gives (shaped after the Argo Rollouts source and docs; each file
names its sources). A real HTTP server on 127.0.0.1 replays them and refuses anything else:
a request out of order or not in the contract is answered 400 and reported by
`assert_complete()`, as is a recorded request that never came.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from releases.backends.argo import (
    INCIDENT_ANNOTATION,
    REASON_ANNOTATION,
    REQUESTED_BY_ANNOTATION,
    ArgoRolloutsBackend,
)
from releases.backends.base import BackendError, RollbackContext
from releases.models import BackendType, RolloutStage
from tests.fixtures.releases import stack

CONTRACTS = Path(__file__).parent / "contracts" / "argo"
TOKEN = "test-service-account-token"
# What the rollback service passes: the presser's reason, who pressed, the incident served.
CONTEXT = RollbackContext(
    reason="Review rate above 2.5 % for 15 minutes.",
    requested_by="Rob Stone (rob)",
    incident="INC-42",
    incident_title="Review rate tripled",
)


class ContractServer:
    """Answers the contract's exchanges in order; anything else is a violation."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.exchanges: list[dict[str, Any]] = json.loads((CONTRACTS / name).read_text())[
            "exchanges"
        ]
        self.position = 0
        self.violations: list[str] = []
        self._lock = threading.Lock()
        contract = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                contract._handle(self)

            do_PATCH = do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def assert_complete(self) -> None:
        missing = [
            f"{e['request']['method']} {e['request']['path']}"
            for e in self.exchanges[self.position :]
        ]
        assert not self.violations, f"{self.name}: requests not in the contract: {self.violations}"
        assert not missing, f"{self.name}: recorded requests never made: {missing}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            expected = (
                self.exchanges[self.position] if self.position < len(self.exchanges) else None
            )
            problem = self._mismatch(expected, handler, unquote(parts.path), query, raw)
            if problem is None and expected is not None:
                self.position += 1
                status, body = expected["response"]["status"], expected["response"]["body"]
            else:
                self.violations.append(f"{handler.command} {handler.path}: {problem}")
                status, body = 400, {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                    "reason": "BadRequest", "message": f"not in the contract: {problem}",
                }  # fmt: skip
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @staticmethod
    def _mismatch(
        expected: dict[str, Any] | None,
        handler: BaseHTTPRequestHandler,
        path: str,
        query: dict[str, str],
        raw: bytes,
    ) -> str | None:
        if expected is None:
            return "the contract has no more requests"
        want = expected["request"]
        got_line, want_line = (handler.command, path, query), (
            want["method"], want["path"], want["query"],
        )  # fmt: skip
        if got_line != want_line:
            return f"expected {want_line}, got {got_line}"
        for name, value in want["headers"].items():
            if handler.headers.get(name) != value:
                return f"header {name}: expected {value!r}, got {handler.headers.get(name)!r}"
        body = json.loads(raw) if raw else None
        if body != want.get("body"):
            return f"body: expected {json.dumps(want.get('body'))}, got {raw.decode()}"
        return None


@pytest.fixture
def contract() -> Iterator[Callable[[str], ContractServer]]:
    servers: list[ContractServer] = []

    def start(name: str) -> ContractServer:
        server = ContractServer(name)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def argo(production, contract):  # type: ignore[no-untyped-def]
    """An ArgoRolloutsBackend for `production`, pointed at a contract's replay server."""

    def make(name: str, **config: Any) -> tuple[ArgoRolloutsBackend, ContractServer]:
        server = contract(name)
        production.backend_type = BackendType.ARGO
        production.backend_config = {
            "api_url": server.url, "namespace": "fraud", "rollout": "fraud-model",
            "verify_tls": True, "observe_seconds": 5, **config,
        }  # fmt: skip
        production.backend_secrets = {"token": TOKEN}
        production.save()
        return ArgoRolloutsBackend(production), server

    return make


@pytest.fixture
def release_of(make_release):  # type: ignore[no-untyped-def]
    """A release whose model component is the image registry.example.com/fraud/model:<v>."""

    def make(version: str):  # type: ignore[no-untyped-def]
        components = stack(version)
        for component in components:
            if component["kind"] == "model":
                component["uri"] = f"docker://registry.example.com/fraud/model:{version}"
        return make_release(version, components=components)

    return make


def test_it_aborts_the_canary_and_restores_the_stable_template(argo, release_of):
    backend, server = argo("rollback_canary_abort_undo.json")

    result = backend.rollback(
        from_release=release_of("2.0.0"), to_release=release_of("1.9.0"),
        idempotency_key="rollback-7", context=CONTEXT,
    )  # fmt: skip
    state = backend.status()

    server.assert_complete()  # the undo's patch annotated the Rollout with why: see below
    assert result.accepted
    assert result.detail == {
        "namespace": "fraud",
        "rollout": "fraud-model",
        "release": "1.9.0",
        "from_release": "2.0.0",
        "replaced_release": "2.0.0",
        "revision": "2",
        "pod_template_hash": "5d8c9f7b6d",
        "aborted": True,
        "promoted_full": False,
        "replayed": False,
    }
    assert (state.live_version, state.candidate_version, state.detail["phase"]) == (
        "1.9.0", None, "Healthy",
    )  # fmt: skip


def test_it_undoes_a_promoted_release_and_promotes_the_older_one_fully(argo, release_of):
    backend, server = argo("rollback_promoted_undo_promote.json")
    by_the_plan = RollbackContext(
        reason="p95_latency_ms > 300 for 5 min", requested_by="rollback plan",
        confirmed_by="Rob Stone (rob)",
    )  # fmt: skip

    result = backend.rollback(
        from_release=release_of("2.0.0"), to_release=release_of("1.9.0"),
        idempotency_key="rollback-8", context=by_the_plan,
    )  # fmt: skip

    server.assert_complete()  # an earlier rollback's incident annotation removed, see below
    assert result.detail["aborted"] is False and result.detail["promoted_full"] is True


def annotations_patched(contract: str) -> dict[str, str | None]:
    """What the contract's undo sets on the Rollout's annotations (None: removed)."""
    exchanges = json.loads((CONTRACTS / contract).read_text())["exchanges"]
    [undo] = [e["request"]["body"] for e in exchanges if isinstance(e["request"].get("body"), list)]
    prefix = "/metadata/annotations/"
    return {
        op["path"].removeprefix(prefix).replace("~1", "/"): op.get("value")
        for op in undo
        if op["path"].startswith(prefix)
    }


def test_the_undo_annotates_the_rollout_with_the_reason_the_requester_and_the_incident():
    assert annotations_patched("rollback_canary_abort_undo.json") == {
        "failsafe.io/idempotency-keys": '["deploy-2.0.0-shadow", "rollback-7"]',
        REASON_ANNOTATION: "Review rate above 2.5 % for 15 minutes.",
        REQUESTED_BY_ANNOTATION: "Rob Stone (rob)",
        INCIDENT_ANNOTATION: "INC-42 Review rate tripled",
    }
    assert annotations_patched("rollback_promoted_undo_promote.json") == {
        "failsafe.io/idempotency-keys": (
            '["deploy-2.0.0-shadow", "deploy-2.0.0-general", "rollback-8"]'
        ),
        REASON_ANNOTATION: "p95_latency_ms > 300 for 5 min",
        REQUESTED_BY_ANNOTATION: "rollback plan, confirmed by Rob Stone (rob)",
        INCIDENT_ANNOTATION: None,  # the earlier rollback's, removed
    }


def test_a_replayed_rollback_changes_nothing(argo, release_of):
    backend, server = argo("rollback_replay.json")

    result = backend.rollback(
        from_release=release_of("2.0.0"), to_release=release_of("1.9.0"),
        idempotency_key="rollback-7", context=CONTEXT,
    )  # fmt: skip

    server.assert_complete()
    assert result.detail["replayed"] is True and result.detail["promoted_full"] is False


def test_a_release_without_a_replica_set_is_a_permanent_error(argo, release_of):
    backend, server = argo("rollback_unknown_release.json")

    with pytest.raises(BackendError) as error:
        backend.rollback(
            from_release=release_of("2.0.0"), to_release=release_of("1.7.0"),
            idempotency_key="rollback-9", context=CONTEXT,
        )  # fmt: skip

    server.assert_complete()
    assert error.value.transient is False
    assert "failsafe.io/release=1.7.0" in str(error.value)


def test_status_maps_a_healthy_rollout_to_its_release(argo):
    backend, server = argo("status_healthy.json")

    state = backend.status()

    server.assert_complete()
    assert (state.live_version, state.candidate_version, state.stage, state.traffic_percent) == (
        "1.9.0", None, RolloutStage.GENERAL_RELEASE, 100.0,
    )  # fmt: skip
    assert state.detail["phase"] == "Healthy" and state.detail["stable_rs"] == "5d8c9f7b6d"


def test_status_during_a_canary_reports_the_stable_release_live(argo):
    backend, server = argo("status_canary.json")

    state = backend.status()

    server.assert_complete()
    assert (state.live_version, state.candidate_version, state.traffic_percent) == (
        "1.9.0", "2.0.0", 20.0,
    )  # fmt: skip
    assert state.stage is None and state.detail["phase"] == "Paused"


def test_it_deploys_to_a_stage_by_setting_the_template(argo, release_of):
    backend, server = argo("deploy_shadow.json")

    result = backend.deploy(
        release=release_of("2.0.0"), stage=RolloutStage.SHADOW, traffic_percent=5,
        idempotency_key="deploy-2.0.0-shadow",
    )  # fmt: skip

    server.assert_complete()
    assert result.detail["template_set"] is True and result.detail["promoted_full"] is False
    assert result.detail["image"] == "registry.example.com/fraud/model:2.0.0"


def test_the_general_release_promotes_fully(argo, release_of):
    backend, server = argo("deploy_general_release.json")

    result = backend.deploy(
        release=release_of("2.0.0"), stage=RolloutStage.GENERAL_RELEASE, traffic_percent=100,
        idempotency_key="deploy-2.0.0-general",
    )  # fmt: skip

    server.assert_complete()
    assert result.detail["template_set"] is False and result.detail["promoted_full"] is True


def test_a_5xx_is_a_transient_error(argo):
    backend, server = argo("error_503.json")

    with pytest.raises(BackendError) as error:
        backend.status()

    server.assert_complete()
    assert error.value.transient is True
    assert "HTTP 503" in str(error.value) and "ServiceUnavailable" in str(error.value)


def test_a_403_is_a_permanent_error_and_stops_the_rollback(argo, release_of):
    backend, server = argo("error_403.json")

    with pytest.raises(BackendError) as error:
        backend.rollback(
            from_release=release_of("2.0.0"), to_release=release_of("1.9.0"),
            idempotency_key="rollback-7", context=CONTEXT,
        )  # fmt: skip

    server.assert_complete()  # and no undo after the refused abort
    assert error.value.transient is False
    assert "HTTP 403" in str(error.value) and 'cannot patch resource "rollouts/status"' in str(
        error.value
    )


def test_a_request_outside_the_contract_is_caught(argo):
    # The replay server itself: a status read against the replay contract's first answer,
    # then a second read the contract does not hold.
    backend, server = argo("status_healthy.json")
    backend.status()

    with pytest.raises(BackendError):
        backend.status()

    assert server.violations and "no more requests" in server.violations[0]


def test_an_unreachable_api_server_is_a_transient_error(production, release_of):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    production.backend_config = {
        "api_url": f"http://127.0.0.1:{port}", "namespace": "fraud", "rollout": "fraud-model",
    }  # fmt: skip
    production.backend_secrets = {"token": TOKEN}

    with pytest.raises(BackendError) as error:
        ArgoRolloutsBackend(production).status()

    assert error.value.transient is True and "unreachable" in str(error.value)


@pytest.mark.parametrize(
    ("config", "secrets", "problem"),
    [
        ({"namespace": "fraud", "rollout": "r"}, {"token": "t"}, "api_url is missing"),
        ({"api_url": "http://kubernetes.example.com", "namespace": "fraud", "rollout": "r"},
         {"token": "t"}, "must be https"),
        ({"api_url": "https://k8s.example.com", "namespace": "fraud", "rollout": "r"}, {},
         "token is missing"),
        ({"api_url": "https://k8s.example.com", "namespace": "Fraud!", "rollout": "r"},
         {"token": "t"}, "namespace must be a Kubernetes object name"),
        ({"api_url": "https://k8s.example.com", "namespace": "fraud", "rollout": "r",
          "verify_tls": "yes"}, {"token": "t"}, "verify_tls must be true or false"),
        ({"api_url": "https://k8s.example.com", "namespace": "fraud", "rollout": "r",
          "ca_cert_pem": "not a certificate"}, {"token": "t"}, "not a usable CA"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_a_permanent_error(production, config, secrets, problem):
    production.backend_config, production.backend_secrets = config, secrets

    with pytest.raises(BackendError) as error:
        ArgoRolloutsBackend(production)

    assert error.value.transient is False and problem in str(error.value)


def test_a_model_uri_that_is_not_an_image_needs_an_image_setting(argo, make_release):
    backend, server = argo("status_healthy.json")
    release = make_release("2.0.0")  # its model URI is s3://…

    with pytest.raises(BackendError) as error:
        backend.deploy(
            release=release, stage=RolloutStage.SHADOW, traffic_percent=5, idempotency_key="k"
        )

    assert error.value.transient is False and "set backend_config.image" in str(error.value)
    assert server.position == 0  # refused before any request


def test_argo_pauses_resumes_and_aborts_as_its_cli_does(argo, release_of):  # type: ignore[no-untyped-def]
    backend, server = argo("rollout_controls.json")
    release = release_of("2.0.0")

    paused = backend.pause(release=release, idempotency_key="pause-1")
    resumed = backend.resume(release=release, idempotency_key="resume-1")
    aborted = backend.abort(release=release, idempotency_key="abort-1", reason="why")
    again = backend.abort(release=release, idempotency_key="abort-1", reason="why")

    server.assert_complete()
    where = {"namespace": "fraud", "rollout": "fraud-model"}
    assert paused.detail == {**where, "paused": True}
    assert resumed.detail == {**where, "paused": False}
    assert aborted.detail == {**where, "aborted": True, "release": "2.0.0"}
    assert again.detail == {**where, "aborted": True, "release": "2.0.0"}

"""The shared HTTP client connects only where the egress policy allows, judged on the address
it connects to (releases/backends/guarded_transport.py), against real servers on loopback."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from governance import egress
from governance.validators import validate_web_url
from incidents import services as incidents
from incidents.slack.client import client_for, explain
from releases import tasks
from releases.analysis import prometheus
from releases.backends import http
from releases.backends.http import http_client
from releases.models import BackendType, RollbackStatus, StepStatus
from tests.factories.releases import go_live

PEER = "peer.failsafe.test"  # a name only the tests' resolver knows


class Peer:
    """An HTTP(S) server on 127.0.0.1 that records each request and answers `answer`."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[str] = []
        self.server_names: list[str | None] = []
        self.answer: tuple[int, dict[str, str]] = (200, {})
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                peer.requests.append(self.path)
                status, headers = peer.answer
                body = b'{"ok": true}'
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.stop()


@pytest.fixture
def nothing_allowed(settings):  # type: ignore[no-untyped-def]
    settings.BACKEND_ALLOWED_NETWORKS = ()


@pytest.fixture
def dns(monkeypatch) -> Callable[..., None]:  # type: ignore[no-untyped-def]
    """Make the policy's resolver answer `name` with the given addresses, one per lookup
    (the last one again once they run out); other names resolve as usual."""
    real = socket.getaddrinfo

    def answer(name: str, *addresses: str) -> None:
        queue = list(addresses)

        def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
            if host != name:
                return real(host, port, *args, **kwargs)
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(egress, "resolve", resolve)

    return answer


def test_a_rebinding_name_is_refused_when_connecting(nothing_allowed, peer, dns):
    """Public when the URL is saved (or checked), loopback when called: refused, and the
    loopback server never hears of it."""
    dns(PEER, "93.184.216.34", "127.0.0.1")
    url = f"http://{PEER}:{peer.port}/api/v1/query"
    validate_web_url(url)  # a name: judged when connecting
    assert egress.allowed_addresses(PEER, peer.port) == ["93.184.216.34"]
    with pytest.raises(egress.EgressRefused) as raised:
        http_client().get(url, timeout=5)
    assert str(raised.value) == (
        f"{PEER} (127.0.0.1) points at a loopback address; Failsafe refuses internal "
        "addresses unless the operator allows their network in BACKEND_ALLOWED_NETWORKS"
    )
    assert peer.requests == []


def test_the_allowlist_lets_the_same_call_through_to_the_checked_address(settings, peer, dns):
    settings.BACKEND_ALLOWED_NETWORKS = egress.parse_networks("127.0.0.0/8")
    dns(PEER, "127.0.0.1")
    response = http_client().get(f"http://{PEER}:{peer.port}/reached", timeout=5)
    assert response.status_code == 200
    assert peer.requests == ["/reached"]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "127.1"],
)
def test_every_spelling_of_loopback_is_refused_when_connecting(nothing_allowed, peer, host):
    with pytest.raises(egress.EgressRefused, match="loopback address"):
        http_client().get(f"http://{host}:{peer.port}/", timeout=5)
    assert peer.requests == []


def test_redirects_are_still_not_followed(settings, peer):
    settings.BACKEND_ALLOWED_NETWORKS = egress.parse_networks("127.0.0.0/8")
    peer.answer = (302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    response = http_client().get(f"http://127.0.0.1:{peer.port}/", timeout=5)
    assert response.status_code == 302
    assert peer.requests == ["/"]


def test_a_proxy_in_the_environment_is_not_used(settings, peer, monkeypatch):
    """A proxy would connect for us, where the policy never looks: it is ignored."""
    settings.BACKEND_ALLOWED_NETWORKS = egress.parse_networks("127.0.0.0/8")
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]  # closed below: nothing listens there
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setattr(http, "_clients", {})  # a client made under these variables
    assert http_client().get(f"http://127.0.0.1:{peer.port}/direct", timeout=5).status_code == 200
    assert peer.requests == ["/direct"]


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `name` only (no IP address in it), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls_speaks_to_the_name_while_connecting_to_the_checked_address(
    settings, dns, tmp_path: Path
):
    """SNI and the certificate check use the URL's name, not the IP connected to."""
    settings.BACKEND_ALLOWED_NETWORKS = egress.parse_networks("127.0.0.0/8")
    cert_pem, key_pem = _certificate(PEER)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = Peer(tls=context)
    try:
        dns(PEER, "127.0.0.1")
        client = http_client(cert_pem.decode())
        assert client.get(f"https://{PEER}:{server.port}/tls", timeout=5).status_code == 200
        assert server.requests == ["/tls"]
        assert server.server_names[-1] == PEER
        # The certificate names PEER, not 127.0.0.1: by address, verification fails.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://127.0.0.1:{server.port}/tls", timeout=5)
    finally:
        server.stop()


def test_a_name_that_does_not_resolve_is_a_connection_error(nothing_allowed):
    with pytest.raises(httpx.ConnectError, match="does not resolve"):
        http_client().get("http://nowhere.invalid/", timeout=5)


# The callers: a clear, non-retried failure


@pytest.mark.django_db
def test_a_webhook_deploy_to_a_refused_address_fails_the_step_without_retry(
    nothing_allowed, dns, webhook_receiver, production, approved, release_manager
):
    """Through the real rollout path: the name passes every save-time check, resolves to
    loopback when the step is applied, and the step fails with the rule, once."""
    _on_peer(webhook_receiver, production)
    assert production.backend_type == BackendType.WEBHOOK
    dns(PEER, "127.0.0.1")
    step = go_live(approved, release_manager, production)
    assert step.status == StepStatus.FAILED
    assert step.error.startswith(f"Webhook deploy was not sent: {PEER} (127.0.0.1) points at")
    assert "BACKEND_ALLOWED_NETWORKS" in step.error
    assert webhook_receiver.calls == []


def _on_peer(receiver, environment):  # type: ignore[no-untyped-def]
    """Point `environment` at the receiver by PEER, a name that passes every save-time check."""
    receiver.configure(environment)
    environment.backend_config = {
        key: value.replace("127.0.0.1", PEER) if isinstance(value, str) else value
        for key, value in environment.backend_config.items()
    }
    environment.full_clean()
    environment.save(update_fields=["backend_config"])


@pytest.mark.django_db
def test_a_rollback_to_a_refused_address_fails_at_once_with_the_rule(
    nothing_allowed, dns, webhook_receiver, successor, live_release, production, fraud,
    oncall_lead, rollback_owner,
):  # fmt: skip
    _on_peer(webhook_receiver, production)
    dns(PEER, "10.0.0.7")
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(
        actor=rollback_owner, incident=incident, reason="Review rate 3x since 2.1.0 went out."
    )
    assert tasks.execute_rollback.apply(args=[request.pk]).get() == RollbackStatus.FAILED
    request.refresh_from_db()
    assert request.status == RollbackStatus.FAILED
    assert f"{PEER} (10.0.0.7) points at a private address" in request.error
    assert request.attempts <= 1  # not retried
    assert webhook_receiver.calls == []


@pytest.mark.django_db
def test_a_backend_saved_on_a_literal_internal_address_is_refused_before_any_call(
    nothing_allowed, webhook_receiver, production, approved, release_manager
):
    webhook_receiver.configure(production)  # saved while loopback was allowed, say
    step = go_live(approved, release_manager, production)
    assert step.status == StepStatus.FAILED
    assert "backend_config.url points at a loopback address" in step.error
    assert webhook_receiver.calls == []


@pytest.mark.django_db
def test_prometheus_on_a_refused_address_is_an_error_reading_not_no_data(
    nothing_allowed, dns, production, peer
):
    dns(PEER, "169.254.169.254")
    production.prometheus_url = f"http://{PEER}:{peer.port}"
    reading = prometheus.read(production, "up")
    assert reading.kind == prometheus.ERROR
    assert reading.message.startswith(f"Prometheus was not queried: {PEER} (169.254.169.254)")
    assert peer.requests == []


@pytest.mark.django_db
def test_slack_web_api_calls_go_through_the_policy(nothing_allowed, settings, fraud, peer):
    settings.SLACK_API_URL = f"http://127.0.0.1:{peer.port}/api/"
    fraud.slack_bot_token = "xoxb-test"
    with pytest.raises(egress.EgressRefused) as raised:
        client_for(fraud).chat_postMessage(channel="C1", text="hello")
    error = explain(raised.value)
    assert error.transient is False
    assert str(error).startswith("Slack was not called: 127.0.0.1 points at a loopback address")
    assert peer.requests == []


def test_pagerduty_on_a_refused_address_is_a_failure_not_retried(nothing_allowed, settings, peer):
    from incidents.paging import PagingError, send_event

    settings.PAGERDUTY_EVENTS_URL = f"http://127.0.0.1:{peer.port}/v2/enqueue"
    with pytest.raises(PagingError) as raised:
        send_event({"event_action": "trigger"})
    assert raised.value.transient is False
    assert str(raised.value).startswith("PagerDuty was not called: 127.0.0.1 points at a loopback")
    assert peer.requests == []

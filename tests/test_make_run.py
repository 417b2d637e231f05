"""`make run` (python -m config.run): serves, shows working demo logins, stops cleanly on Ctrl-C,
and starts again on the same data without duplicating the demo."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


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


def _api_systems(port: int, username: str, password: str) -> list[str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/systems/")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return sorted(s["slug"] for s in json.load(response)["results"])


def _interrupt_and_wait(process: subprocess.Popen) -> None:
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends
    assert process.wait(timeout=40) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


def test_make_run_serves_stops_and_restarts_without_duplicating(tmp_path):
    data_dir, port = tmp_path / "data", _free_port()
    log = tmp_path / "run.log"

    process = _start(data_dir, port, log)
    try:
        cold = _wait_for_login_page(port, process, log, limit=90)
        banner = log.read_text()
        assert f"http://127.0.0.1:{port}/" in banner
        assert "failsafe-demo" in banner
        slugs = _api_systems(port, "alice", "failsafe-demo")
        assert slugs == ["document-ocr", "fraud-screening", "support-assistant"]
    finally:
        _interrupt_and_wait(process)
    assert not any(
        str(data_dir) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    ), "a server of the embedded data dir outlived the runner"

    process = _start(data_dir, port, log)
    try:
        warm = _wait_for_login_page(port, process, log, limit=15)
        assert _api_systems(port, "admin", "failsafe-demo") == slugs
    finally:
        _interrupt_and_wait(process)
    print(f"cold start {cold:.1f}s, second start {warm:.1f}s")

"""`make run`: the whole product on this machine, no system services needed.

Starts the embedded PostgreSQL and Redis under .data/, migrates, loads the demo data
(idempotently), then runs the web server, a Celery worker and Celery beat until Ctrl-C,
when it stops all of them. The data survives to the next run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    evidence_signing_key_file,
    project_data_dir,
)

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("FAILSAFE_HOST", "127.0.0.1")
PORT = os.environ.get("FAILSAFE_PORT", "8000")


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _prepare_database() -> list[tuple[str, str, str]]:
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from governance.demo import load_demo

    logins = load_demo()
    connections.close_all()
    return logins


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=BASE_DIR, env=env, start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    started = time.monotonic()
    data_dir = project_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Starting the embedded PostgreSQL and Redis in {data_dir} …", flush=True)
    postgres = EmbeddedPostgres.start(data_dir / "postgres")
    redis = EmbeddedRedis.start(data_dir / "redis", persist=True)

    env = dict(os.environ)
    env.update(
        DATABASE_URL=os.environ.get("DATABASE_URL") or postgres.url(),
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL") or redis.url(),
        DEBUG=os.environ.get("DEBUG", "true"),
        SECRET_KEY=os.environ.get("SECRET_KEY") or _secret_key(data_dir),
        **(
            {}
            if os.environ.get("EVIDENCE_SIGNING_KEY") or os.environ.get("EVIDENCE_SIGNING_KEY_FILE")
            else {"EVIDENCE_SIGNING_KEY_FILE": str(evidence_signing_key_file(data_dir))}
        ),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    os.environ.update(env)
    processes: list[subprocess.Popen] = []
    try:
        logins = _prepare_database()
        python = sys.executable
        processes = [
            _spawn([python, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"], env),
            _spawn(
                [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                 "--concurrency=2", "--without-gossip", "--without-mingle",
                 "--hostname=failsafe@%h"],
                env,
            ),
            _spawn(
                [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                 f"--schedule={data_dir / 'celerybeat-schedule'}"],
                env,
            ),
        ]  # fmt: skip
        _announce(logins, time.monotonic() - started)
        signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C stops it even when started from a script's background job, where the shell
        # hands it SIGINT ignored and Python then installs no KeyboardInterrupt of its own.
        signal.signal(signal.SIGINT, _interrupt)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("A Failsafe process stopped unexpectedly; shutting down.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Failsafe …", flush=True)
        return 0
    finally:
        _stop(processes)
        redis.stop()
        postgres.stop()
        print("Stopped. Data kept in", data_dir, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _announce(logins: list[tuple[str, str, str]], elapsed: float) -> None:
    width = max(len(user) for user, _, _ in logins)
    lines = [
        "",
        f"Failsafe is running at http://{HOST}:{PORT}/  (ready in {elapsed:.1f}s; Ctrl-C stops it)",
        f"API docs: http://{HOST}:{PORT}/api/docs/",
        "",
        "Demo logins (password for all: see below):",
        *[f"  {user.ljust(width)}  {role}" for user, role, _ in logins],
        f"  password: {logins[0][2]}",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())

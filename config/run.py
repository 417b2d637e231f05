"""`make run`: the whole product on this machine, no system services needed.

Starts the embedded PostgreSQL and Redis under .data/, migrates, loads the demo data
(idempotently), collects the static files, then runs the production web server (gunicorn,
DEBUG off, static files by whitenoise), a Celery worker and two Celery beats (the active one
and its hot standby, config/beat.py) under a supervisor (config/supervisor.py) that starts
any of them again if it dies, until Ctrl-C, when it stops all of them. The data survives to
the next run.

What differs from production is said here, each as the setting that production reads: plain
HTTP on loopback (no HTTPS redirect, cookies without Secure), emails printed on the console,
logs as text.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from config.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    evidence_signing_key_file,
    project_data_dir,
)
from config.redis_urls import redis_url_of_broker
from config.supervisor import Supervisor
from governance.egress import LOOPBACK_NETWORKS

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("FAILSAFE_HOST", "127.0.0.1")
PORT = os.environ.get("FAILSAFE_PORT", "8000")
# gunicorn as in docker-compose.yml, with threads: WEB_WORKERS processes of WEB_THREADS threads
# each. Every process keeps a pool of at most DB_POOL_MAX_SIZE (8) connections, so the web
# server and the worker's two processes together hold at most 2x8 + 2x8, far below
# PostgreSQL's max_connections (100). A burst beyond the threads waits in the listen backlog
# (2,048; runserver's was 10) instead of being reset.
WEB_WORKERS = os.environ.get("WEB_WORKERS", "2")
WEB_THREADS = os.environ.get("WEB_THREADS", "8")


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _prepare() -> list[tuple[str, str, str]]:
    """Migrate, load the demo, collect the static files; return the demo logins."""
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from governance.demo import load_demo

    logins = load_demo()
    connection.close()
    if hasattr(connection, "close_pool"):  # PostgreSQL's: this process serves nothing,
        connection.close_pool()  # so its pooled connections are closed, not kept
    call_command("collectstatic", interactive=False, verbosity=0)
    return logins


def _environment(
    data_dir: Path, postgres: EmbeddedPostgres, redis: EmbeddedRedis
) -> dict[str, str]:
    """The children's environment: what the caller set wins over every default here."""
    defaults = {
        "DATABASE_URL": postgres.url(),
        "CELERY_BROKER_URL": redis.url(),
        "REDBEAT_REDIS_URL": redis_url_of_broker(redis.url()),  # beat's schedule and lock
        # The rate limits, shared by gunicorn's processes: the embedded Redis, whatever broker.
        "CACHE_URL": redis.cache_url(),
        "SECRET_KEY": _secret_key(data_dir),
        "DEBUG": "false",
        "ALLOWED_HOSTS": ",".join(dict.fromkeys(["localhost", "127.0.0.1", HOST])),
        # Plain HTTP on loopback: production's HTTPS redirect and Secure-only cookies would
        # lock the browser out. Set them to true when a TLS proxy stands in front.
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "STATIC_ROOT": str(data_dir / "static"),
        "SITE_URL": f"http://{HOST}:{PORT}",
        "EMAIL_URL": "consolemail://",  # rollback emails on the console, not to localhost:25
        # Backends the demo's owners point at this machine may be called.
        "BACKEND_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
        "LOG_FORMAT": "text",
    }
    if not (os.environ.get("EVIDENCE_SIGNING_KEY") or os.environ.get("EVIDENCE_SIGNING_KEY_FILE")):
        defaults["EVIDENCE_SIGNING_KEY_FILE"] = str(evidence_signing_key_file(data_dir))
    env = {**defaults, **{k: v for k, v in os.environ.items() if v}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    return env


def _commands(data_dir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each process's command and what its environment adds."""
    python = sys.executable
    # /metrics sums the request metrics of every gunicorn process from their files here
    # (prometheus-client's multiprocess mode); each run starts from an empty folder.
    metrics_dir = data_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    beat = [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
    return {
        "web server": ([
            python, "-m", "gunicorn", "config.wsgi:application", f"--bind={HOST}:{PORT}",
            f"--workers={WEB_WORKERS}", f"--threads={WEB_THREADS}", "--backlog=2048",
            "--timeout=30", "--graceful-timeout=10", "--keep-alive=5", "--no-control-socket",
        ], {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}),
        "worker": ([
            python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
            "--concurrency=2", "--without-gossip", "--without-mingle",
            "--hostname=failsafe@%h",
        ], {}),
        # Two beats on the schedule and lock in Redis (config/beat.py): the one with the lock
        # sends the due tasks, the standby takes over within 30 s if it dies.
        "beat": (beat, {}),
        "beat standby": (beat, {}),
    }  # fmt: skip


def main() -> int:
    started = time.monotonic()
    # Ctrl-C stops it even when started from a script's background job, where the shell
    # hands it SIGINT ignored and Python then installs no KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    data_dir = project_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = redis = supervisor = None
    try:
        print(f"Starting the embedded PostgreSQL and Redis in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir / "postgres")
        redis = EmbeddedRedis.start(data_dir / "redis", persist=True)
        env = _environment(data_dir, postgres, redis)
        os.environ.update(env)
        logins = _prepare()
        supervisor = Supervisor(cwd=BASE_DIR, env=env)
        for name, (args, extra) in _commands(data_dir).items():
            supervisor.start(name, args, extra)
        _announce(logins, time.monotonic() - started)
        supervisor.watch()  # until Ctrl-C or SIGTERM; a process that dies is started again
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not leave servers behind: stopping is bounded (the supervisor's
        # STOP_SECONDS, then PostgreSQL's fast shutdown).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        print("\nStopping Failsafe …", flush=True)
        if supervisor is not None:
            supervisor.stop()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        print("Stopped. Data kept in", data_dir, flush=True)
    return 0


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

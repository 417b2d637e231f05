"""An MLflow alias moved outside Failsafe → the ungoverned-change incident, over the webhook.

    .venv/bin/python bench/drift.py [--runs 30] [--warmup 3]

What is timed, per run: a signed MLflow-style `model_version_alias.created` delivery posted
to the registry intake (`POST /api/intake/mlflow/fraud/`, gunicorn, 2 sync workers, DEBUG
off) until the incident of category *ungoverned change* for that environment is in the
database: the delivery recorded, the reconcile task handed to the broker after commit, a
real Celery worker (prefork, concurrency 2) running it, the backend's status read, the
drift, its audit event and the incident declared in one transaction.

Brings up its own embedded PostgreSQL and Redis in a fresh data folder. A real MLflow
server takes ~11 s to start and ~850 MB, so the backend's `status` is read from a stand-in
on loopback that speaks the two MLflow REST calls the MLflow backend makes for it
(`registered-models/alias`, `registered-models/get`) with MLflow's JSON; the delivery is the
MLflow webhook's, signed as MLflow signs it. tests/releases/test_drift_live.py runs the same
path against a real MLflow server.

One environment (and one registered model) per run, each recorded with 2.0.0 live and its
alias on a version tagged 2.0.0; a run moves the alias to a version tagged 9.9.9. The last
line is key=value pairs; p50_ms target ≤ 250.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import HOST, _free_port, _pairs, exchange, start_gunicorn, stop_gunicorn  # noqa: E402
from bench.rollback_latency import start_worker, stop_worker  # noqa: E402
from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

TARGET_P50_MS = 250.0
WAIT_SECONDS = 30
ALIAS = "champion"


class FakeMlflow:
    """The registry as the MLflow backend's `status` reads it: model → (version, release tag)."""

    def __init__(self) -> None:
        self.aliases: dict[str, tuple[str, str]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                found = outer.aliases.get(query.get("name", ""))
                if parts.path.endswith("registered-models/alias") and found:
                    version, tag = found
                    body: dict[str, Any] = {"model_version": {
                        "name": query["name"], "version": version, "status": "READY",
                        "aliases": [ALIAS], "tags": [{"key": "failsafe.release", "value": tag}],
                    }}  # fmt: skip
                    self._answer(200, body)
                else:
                    self._answer(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "?"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeMlflow:
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def build(fake: FakeMlflow, count: int) -> tuple[str, list[tuple[int, str]]]:
    """The system, its webhook secret and `count` MLflow environments recorded with 2.0.0
    live; returns (secret, [(environment id, model name)])."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from bench.pages import _register
    from governance import services as governance
    from governance.roles import Role
    from releases import services
    from releases.models import BackendType, Deployment, ReleaseStatus

    users = get_user_model().objects
    registrar = users.create_user("olivia", "olivia@example.com", None)
    registrar.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    system = governance.create_system(
        actor=registrar, name="Card fraud screening", slug="fraud",
        intended_purpose="Scores card payments for fraud.", risk_category="high",
    )  # fmt: skip
    lead = users.create_user("olga", "olga@example.com", None)
    governance.grant_role(actor=registrar, system=system, role=Role.ONCALL_LEAD, user=lead)
    model_owner = users.create_user("mona", "mona@example.com", None)
    governance.grant_role(actor=registrar, system=system, role=Role.MODEL_OWNER, user=model_owner)
    release = _register(model_owner, system, "2.0.0")
    type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.LIVE)
    _, secret = services.create_webhook_secret(actor=registrar, system=system, name="MLflow")
    environments = []
    for n in range(count):
        model = f"fraud-gbm-{n}"
        environment = services.create_environment(
            actor=registrar, system=system, name=f"Region {n}"
        )
        environment.backend_type = BackendType.MLFLOW
        environment.backend_config = {"tracking_uri": fake.url, "model_name": model,
                                      "alias": ALIAS, "timeout_seconds": 5}  # fmt: skip
        environment.save()
        Deployment.objects.create(
            environment=environment, release=release, started_at=timezone.now(), via="rollout"
        )
        fake.aliases[model] = ("1", "2.0.0")
        environments.append((environment.pk, model))
    return str(secret), environments


def delivery(secret: str, model: str) -> bytes:
    from releases.intake.signature import sign

    body = json.dumps({
        "entity": "model_version_alias", "action": "created",
        "timestamp": "2026-12-07T10:00:00+00:00",
        "data": {"name": model, "alias": ALIAS, "version": "7"},
    }).encode()  # fmt: skip
    delivery_id, stamp = str(uuid.uuid4()), str(int(time.time()))
    headers = {
        "Host": HOST, "Content-Type": "application/json", "Content-Length": str(len(body)),
        "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign(secret, delivery_id, stamp, body),
    }  # fmt: skip
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST /api/intake/mlflow/fraud/ HTTP/1.1\r\n{head}\r\n".encode() + body


def wait_for_incident(environment_id: int) -> bool:
    from django.db import connection

    deadline = time.monotonic() + WAIT_SECONDS
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT 1 FROM incidents_incident i JOIN releases_drift d ON d.id = i.drift_id "
                "WHERE d.environment_id = %s AND i.category = 'ungoverned_change'",
                [environment_id],
            )
            if cursor.fetchone():
                return True
            time.sleep(0.002)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    data_dir = project_data_dir() / f"bench-drift-{os.getpid()}"
    postgres = broker = worker = server = fake = None
    latencies: list[float] = []
    try:
        print(f"Starting a fresh embedded PostgreSQL and Redis in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir / "postgres")
        broker = EmbeddedRedis.start(data_dir / "redis", persist=False)
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            DATABASE_URL=postgres.url(),
            CELERY_BROKER_URL=broker.url(),
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
            EMAIL_URL=f"filemail:///{data_dir / 'mail'}",
        )
        os.environ.update(env)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        fake = FakeMlflow().start()
        secret, environments = build(fake, args.warmup + args.runs)
        connections.close_all()
        worker = start_worker(env, "celery", data_dir / "worker.log")
        port = _free_port()
        server = start_gunicorn(env, port, data_dir / "gunicorn.log")
        print(f"gunicorn on http://{HOST}:{port}/, a Celery worker, MLflow stand-in at "
              f"{fake.url}", flush=True)  # fmt: skip
        for n, (environment_id, model) in enumerate(environments):
            fake.aliases[model] = ("7", "9.9.9")  # moved by hand, outside Failsafe
            started = time.perf_counter()
            status, _, body = exchange(port, delivery(secret, model))
            if status != 200 or b"reconcile of 1 environment" not in body:
                raise RuntimeError(f"the intake answered {status}: {body[:300]!r}")
            if not wait_for_incident(environment_id):
                raise RuntimeError(f"no incident for environment {environment_id}")
            elapsed = (time.perf_counter() - started) * 1000
            if n >= args.warmup:
                latencies.append(elapsed)
                print(f"  run {n - args.warmup + 1:>3}  {elapsed:7.1f} ms", flush=True)
            time.sleep(0.05)
    finally:
        if server is not None:
            stop_gunicorn(server)
        if worker is not None:
            stop_worker(worker)
        if fake is not None:
            fake.stop()
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)

    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    met = int(p50 <= TARGET_P50_MS)
    pairs = _pairs(
        path="drift", p50_ms=p50, p99_ms=p99, runs=len(latencies), target=TARGET_P50_MS,
        meets_target=met,
    )  # fmt: skip
    print(pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

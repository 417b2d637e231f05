"""pytest plugin (loaded with -p before Django starts): the servers the suite runs against.

Real PostgreSQL and a real Redis broker: the ones named by DATABASE_URL and
CELERY_BROKER_URL when set, else the embedded ones under .data/test-*.

Under pytest-xdist (`make test` runs two workers), the controller brings them up and each
worker inherits them: PostgreSQL is shared (pytest-django gives each worker a database of its
own), but a broker is not. Two workers' Celery workers on one queue would run each other's
tasks against the wrong database, so each worker has a Redis of its own (or, on a Redis it was
given, a database number of its own). Each worker also has its own data folder for the files
the tests write (static files, MLflow's artifacts, `make run`'s folders).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir
from governance.egress import LOOPBACK_NETWORKS

_started: list[EmbeddedPostgres | EmbeddedRedis] = []
EMBEDDED_BROKER = "FAILSAFE_TEST_EMBEDDED_BROKER"  # set when the broker is the suite's own


def _bring_up_services() -> None:
    data_dir = project_data_dir()
    if not os.environ.get("DATABASE_URL"):
        postgres = EmbeddedPostgres.start(data_dir / "test-postgres")
        _started.append(postgres)
        os.environ["DATABASE_URL"] = postgres.url()
    if not os.environ.get("CELERY_BROKER_URL"):
        redis = EmbeddedRedis.start(data_dir / "test-redis", persist=False)
        _started.append(redis)
        os.environ["CELERY_BROKER_URL"] = redis.url()
        os.environ[EMBEDDED_BROKER] = "1"
    if not os.environ.get("CACHE_URL") and not os.environ["CELERY_BROKER_URL"].startswith("redis"):
        # A RabbitMQ broker: the rate limits still need a Redis (config/settings.py, CACHES).
        cache = EmbeddedRedis.start(data_dir / "test-cache", persist=False)
        _started.append(cache)
        os.environ["CACHE_URL"] = cache.cache_url()
    # Tests serve static files the production way (manifest storage), collected once per run.
    os.environ.setdefault("STATIC_ROOT", str(data_dir / "test-static"))
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
    # The test client speaks plain HTTP; production redirects to HTTPS (tested separately).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    # Audit checkpoints are signed (governance/audit/signing.py): with a key made for the run,
    # which the Celery workers the tests start inherit.
    if not os.environ.get("AUDIT_CHECKPOINT_KEY"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        os.environ["AUDIT_CHECKPOINT_KEY"] = (
            Ed25519PrivateKey.generate()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )


def _own_broker(worker: str) -> str:
    """This xdist worker's broker: a Redis of its own, or a database number of its own."""
    url = os.environ["CELERY_BROKER_URL"]
    if os.environ.get(EMBEDDED_BROKER):
        redis = EmbeddedRedis.start(project_data_dir() / "test-redis", persist=False)
        _started.append(redis)
        return redis.url()
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RuntimeError(
            f"Parallel tests need a Redis broker to give each worker its own database, not "
            f"{parts.scheme}://: run them with one worker (TEST_WORKERS=0)."
        )
    return urlunsplit(parts._replace(path=f"/{int(worker.removeprefix('gw')) + 1}"))


def _become_worker(worker: str) -> None:
    data_dir = project_data_dir() / f"xdist-{worker}"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FAILSAFE_DATA_DIR"] = str(data_dir)
    os.environ["STATIC_ROOT"] = str(data_dir / "test-static")
    os.environ["CELERY_BROKER_URL"] = _own_broker(worker)


# The suite's peers (webhook receivers, MLflow, Prometheus, Slack's stand-in) listen on
# loopback; the tests of the refusal take this allowance away with `settings`.
os.environ.setdefault("BACKEND_ALLOWED_NETWORKS", LOOPBACK_NETWORKS)

_worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"… in an xdist worker
if _worker:
    _become_worker(_worker)
else:
    _bring_up_services()


def pytest_unconfigure(config) -> None:  # type: ignore[no-untyped-def]
    for service in reversed(_started):
        service.stop()

"""pytest plugin (loaded with -p before Django starts): the servers the suite runs against.

Real PostgreSQL and a real Redis broker: the ones named by DATABASE_URL and
CELERY_BROKER_URL when set, else the embedded ones under .data/test-*.
"""

from __future__ import annotations

import os

from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir

_started: list[EmbeddedPostgres | EmbeddedRedis] = []


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
    # Tests serve static files the production way (manifest storage), collected once per run.
    os.environ.setdefault("STATIC_ROOT", str(data_dir / "test-static"))
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
    # The test client speaks plain HTTP; production redirects to HTTPS (tested separately).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


_bring_up_services()


def pytest_unconfigure(config) -> None:  # type: ignore[no-untyped-def]
    for service in reversed(_started):
        service.stop()

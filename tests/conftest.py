"""Personas and shared fixtures. Each persona holds one role on the `fraud` system."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth.models import Permission
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from governance import services
from governance.roles import Role
from tests.factories import UserFactory

pytest_plugins = [
    "tests.fixtures.releases",
    "tests.fixtures.incidents",
    "tests.fixtures.webhook_server",
    "tests.fixtures.mlflow_server",
    "tests.fixtures.oidc_provider",
    # The worlds of the role matrix and of the API sweeps (tests/worlds/__init__.py).
    "tests.worlds.action_items",
    "tests.worlds.alert_tokens",
    "tests.worlds.api",
    "tests.worlds.api_tokens",
    "tests.worlds.governance",
    "tests.worlds.incident_api",
    "tests.worlds.intake",
    "tests.worlds.postmortem",
    "tests.worlds.releases",
    "tests.worlds.site",
    "tests.worlds.war_room",
    "tests.fixtures.prometheus_server",
]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# The files that take a minute or more, run first: the workers (`make test`, a file to a
# worker) then share out the short files at the end instead of one worker finishing a long
# one alone. Longest first; a file not named keeps its place after these.
LONG_FILES = (
    "tests/test_make_run.py",
    "tests/test_api_fuzz.py",
    "tests/test_hostile_input.py",
    "tests/test_route_matrix.py",
    "tests/releases/test_mlflow_backend.py",
    "tests/releases/test_rollback_broker_faults.py",
    "tests/releases/test_rollback_worker.py",
    "tests/browser/test_war_room.py",
    "tests/browser/test_rollback.py",
    "tests/browser/test_releases.py",
    "tests/test_hostile_pages.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONG_FILES)}
    root = Path(__file__).resolve().parent.parent

    def key(item: pytest.Item) -> int:
        return rank.get(Path(item.fspath).relative_to(root).as_posix(), len(LONG_FILES))

    items.sort(key=key)  # stable: the order within a file, and of the rest, is kept


PERSONA_ROLES = {
    "owner": Role.OWNER,
    "release_manager": Role.RELEASE_MANAGER,
    "model_owner": Role.MODEL_OWNER,
    "rollback_owner": Role.ROLLBACK_OWNER,
    "oncall_lead": Role.ONCALL_LEAD,
    "responder": Role.RESPONDER,
    "compliance": Role.COMPLIANCE_OFFICER,
    "viewer": Role.VIEWER,
}


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # PBKDF2's deliberate slowness buys nothing in tests that create dozens of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_page_cache() -> None:
    # Each test starts with nothing rendered: a page cached by an earlier test is not its data.
    from django.core.cache import caches

    caches["pages"].clear()


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    # Each test starts with no request counted against the rate limits (production's rates):
    # the counters live in Redis, which outlives a test. Only the limits' keys are deleted
    # (the cache shares the broker's database), and a test that left Redis down is no error.
    from redis.exceptions import RedisError

    from governance.api import throttling

    throttling._paused_until.clear()
    with contextlib.suppress(RedisError, OSError):
        throttling.forget_counts()


@pytest.fixture
def registrar(db):
    """May register AI systems (the global add permission); owns what they register."""
    user = UserFactory(username="registrar")
    user.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    return user


@pytest.fixture
def owner(registrar):
    return registrar


@pytest.fixture
def fraud(registrar):
    return services.create_system(
        actor=registrar,
        name="Card fraud screening",
        slug="fraud",
        intended_purpose="Scores card payments.",
        risk_category="high",
    )


@pytest.fixture
def other_system(db):
    """A system none of the personas holds a role on."""
    stranger = UserFactory(username="stranger")
    stranger.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    return services.create_system(
        actor=stranger,
        name="Hidden system",
        slug="hidden",
        intended_purpose="Nobody here may see it.",
        risk_category="minimal",
    )


def _persona(username: str, role: Role, system, registrar):  # type: ignore[no-untyped-def]
    # Named after the username ("olga" is Olga …), so pages and screenshots show who is meant.
    user = UserFactory(username=username, first_name=username.capitalize())
    services.grant_role(actor=registrar, system=system, role=role, user=user)
    return user


@pytest.fixture
def release_manager(fraud, registrar):
    return _persona("ravi", Role.RELEASE_MANAGER, fraud, registrar)


@pytest.fixture
def model_owner(fraud, registrar):
    return _persona("mona", Role.MODEL_OWNER, fraud, registrar)


@pytest.fixture
def rollback_owner(fraud, registrar):
    return _persona("rob", Role.ROLLBACK_OWNER, fraud, registrar)


@pytest.fixture
def oncall_lead(fraud, registrar):
    return _persona("olga", Role.ONCALL_LEAD, fraud, registrar)


@pytest.fixture
def responder(fraud, registrar):
    return _persona("rhea", Role.RESPONDER, fraud, registrar)


@pytest.fixture
def compliance(fraud, registrar):
    return _persona("carl", Role.COMPLIANCE_OFFICER, fraud, registrar)


@pytest.fixture
def viewer(fraud, registrar):
    return _persona("vic", Role.VIEWER, fraud, registrar)


@pytest.fixture
def outsider(db, fraud):
    """Logged in, holds no role anywhere."""
    return UserFactory(username="charlie", first_name="Charlie")


@pytest.fixture
def persona(request):
    """Indirect fixture: `persona` parametrised by fixture name ("owner", "viewer", …)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def people(  # type: ignore[no-untyped-def]
    owner, release_manager, model_owner, rollback_owner, oncall_lead, responder, compliance,
    viewer, outsider,
):  # fmt: skip
    """Every persona by name, for the role matrices."""
    return {
        "owner": owner,
        "release_manager": release_manager,
        "model_owner": model_owner,
        "rollback_owner": rollback_owner,
        "oncall_lead": oncall_lead,
        "responder": responder,
        "compliance": compliance,
        "viewer": viewer,
        "outsider": outsider,
    }


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def worker_database_url() -> str:
    """DATABASE_URL pointed at the database pytest-django created, for other processes."""
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def start_worker(log: Path, *, queues: str = "celery", **env_extra: str) -> subprocess.Popen:
    """A real Celery worker process on the test database, in its own process group."""
    from config.celery import app

    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        PYTHONUNBUFFERED="1",
        # Rollback retries and verification bounded so that failure tests finish in seconds.
        ROLLBACK_MAX_RETRIES="3",
        ROLLBACK_VERIFY_SECONDS="10",
        **env_extra,
    )
    out = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
         "--concurrency=2", "--without-gossip", "--without-mingle", "-Q", queues,
         f"--hostname={log.stem}@%h"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    out.close()  # the child has its own copy
    deadline = time.monotonic() + 60
    name = f"{log.stem}@"

    def ready() -> bool:
        if "CELERY_BROKER_URL" in env_extra:  # a broker of its own: the log says when
            return f"{name}" in log.read_text() and " ready." in log.read_text()
        return any(host.startswith(name) for reply in app.control.ping(timeout=0.5) or []
                   for host in reply)  # fmt: skip

    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_worker(process)
            raise RuntimeError(f"Celery worker did not start; see {log}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, artifacts_dir):
    """A real Celery worker process consuming from the real broker, on the test database."""
    process = start_worker(artifacts_dir / "celery-worker.log")
    yield process
    stop_worker(process)


@receiver(connection_created)
def allow_the_flush_to_truncate_audit_tables(sender, connection, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Django's flush after a transactional test truncates every table, and the audit tables
    refuse TRUNCATE unless the session allows it (governance/migrations/0007)."""
    if connection.vendor == "postgresql":
        connection.connection.execute("SET failsafe.audit_truncate = 'allowed'")

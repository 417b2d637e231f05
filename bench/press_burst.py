"""A burst of ROLL BACK NOW presses, all at once, against the stack `make run` starts.

    .venv/bin/python bench/press_burst.py [--presses 200] [--environments 10]

Starts `make run` (`python -m config.run`) on a fresh data folder and a free port, and once
it serves, adds through the services, on make run's own database and with its SECRET_KEY
(the worker must decrypt the backends' secrets): two high-risk systems with half the
environments each, every one deploying through a real webhook receiver in this process,
2.0.0 then 2.1.0 live in each; and, per system, two rollback owners and an on-call lead (who may
press), a responder, a viewer and a compliance officer (who may not: 403), each with an API
token for their system. The other system's people are outsiders here (404).

Then every press at once, each on a connection of its own released by one barrier:
`POST /api/environments/{id}/rollback/`, spread over the environments and, for each, over
those seven kinds of caller; one press in 19 signs in with HTTP Basic instead of the token
(a password costs the server a PBKDF2 hash, as it does in production). While the presses
and the rollbacks they start run, PostgreSQL's client sessions are counted every 50 ms.

It fails unless no press was reset or got a 5xx (a 503 included), every authorised press got
the environment's one rollback (202 for one press, 200 for the others), every other press
got 403 or 404 as the caller's role says, every rollback succeeded, and the receiver got
exactly one rollback call per environment. The last line is key=value pairs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

HOST = "127.0.0.1"
OLD, NEW = "2.0.0", "2.1.0"  # every rollback puts OLD back in place of NEW
PASSWORD = "press burst only: correct horse battery staple"
APP = "press_burst"  # this script's PostgreSQL sessions, left out of the count
# Who presses, in turn, and the answer each must get. An outsider presses with a token (or
# the password) of someone who may press on the other system: here, the environment does
# not exist for them.
CALLERS = {
    "rollback_owner": 202,
    "oncall_lead": 202,
    "responder": 403,
    "rollback_owner_2": 202,
    "viewer": 403,
    "compliance": 403,
    "outsider": 404,
}
# One press in 19 signs in with a password (HTTP Basic), the others with their API token: a
# password costs the server a PBKDF2 hash, as in production. 19 is prime to the number of
# environments and of kinds of caller, so these presses fall on all of them.
BASIC_EVERY = 19
START_SECONDS = 120  # for make run to serve
SETTLE_SECONDS = 60  # for every rollback to finish after the burst
PRESS_TIMEOUT = 60.0  # one press; longer is a hang, counted as an error


@dataclass(frozen=True)
class Target:
    pk: int
    system: str
    slug: str


@dataclass(frozen=True)
class Caller:
    username: str
    token: str


@dataclass
class Press:
    target: Target
    kind: str
    basic: bool
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    body: Any = None


# --- make run --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start_make_run(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    """`python -m config.run` on its own embedded servers, whatever this process was given."""
    own = {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "SECRET_KEY",
        "STATIC_ROOT",
        "DJANGO_SETTINGS_MODULE",
    }
    env = {key: value for key, value in os.environ.items() if key not in own}
    env.update(FAILSAFE_DATA_DIR=str(data_dir), FAILSAFE_PORT=str(port))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.run"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"make run ended (code {process.returncode}):\n{_tail(log)}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://{HOST}:{port}/login/", timeout=2) as response,
        ):
            if response.status == 200:
                return process
        time.sleep(0.2)
    stop_make_run(process)
    raise RuntimeError(f"make run did not serve within {START_SECONDS}s:\n{_tail(log)}")


def stop_make_run(process: subprocess.Popen) -> None:
    """Ctrl-C, as a person would; its supervisor stops everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def use_database_of(data_dir: Path) -> str:
    """Set up Django in this process on make run's database; return that database's URL."""
    url = EmbeddedPostgres.running(data_dir / "postgres").url()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{url}&application_name={APP}",
        CELERY_BROKER_URL=f"redis+socket://{EmbeddedRedis.socket_for(data_dir / 'redis')}",
        SECRET_KEY=(data_dir / "secret_key").read_text().strip(),
        STATIC_ROOT=str(data_dir / "static"),
        LOG_LEVEL="WARNING",
        BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # its receiver listens on loopback
    )
    import django

    django.setup()
    return url


# --- the data --------------------------------------------------------------------------------


def build(receiver: Any, environments: int) -> tuple[list[Target], dict[str, dict[str, Caller]]]:
    """Two systems, `environments` environments on the receiver with NEW live over OLD, and
    each system's callers (by kind) with an API token for it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.audit.chain import seal_all
    from governance.roles import Role
    from releases import services
    from releases.models import BackendType

    hashed = make_password(PASSWORD)  # once: the same PBKDF2 hash for every caller

    def person(system: Any, username: str, role: Role) -> Any:
        user = get_user_model().objects.create(
            username=username, email=f"{username}@example.com", password=hashed
        )
        governance.grant_role(actor=registrar, system=system, role=role, user=user)
        return user

    registrar = get_user_model().objects.create(username="burst-owner", password=hashed)
    registrar.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    roles = {
        "rollback_owner": Role.ROLLBACK_OWNER,
        "rollback_owner_2": Role.ROLLBACK_OWNER,
        "oncall_lead": Role.ONCALL_LEAD,
        "responder": Role.RESPONDER,
        "viewer": Role.VIEWER,
        "compliance": Role.COMPLIANCE_OFFICER,
        "mona": Role.MODEL_OWNER,
        "ravi": Role.RELEASE_MANAGER,
        "rita": Role.RELEASE_MANAGER,
    }
    targets: list[Target] = []
    callers: dict[str, dict[str, Caller]] = {}
    for s in (1, 2):
        system = governance.create_system(
            actor=registrar, name=f"Burst screening {s}", slug=f"burst-{s}",
            intended_purpose="Scores card payments for fraud before authorisation.",
            risk_category="high",
        )  # fmt: skip
        people = {kind: person(system, f"burst-{s}-{kind}", role) for kind, role in roles.items()}
        callers[system.slug] = {}
        for kind in CALLERS.keys() - {"outsider"}:
            _, token = governance.create_api_token(
                actor=people[kind], system=system, name="press burst", expires_in_days=7
            )
            callers[system.slug][kind] = Caller(people[kind].username, token)
        mine = [
            services.create_environment(
                actor=registrar, system=system, name=f"Region {n:02d}", slug=f"region-{n:02d}",
                backend_type=BackendType.WEBHOOK, backend_config=receiver.backend_config(),
                backend_secrets={"signing_secret": receiver.secret},
            )
            for n in range(s - 1, environments, 2)
        ]  # fmt: skip
        _take_live(mine, people)
        targets += [Target(e.pk, system.slug, e.slug) for e in mine]
    seal_all()  # as beat's sealer would
    return targets, callers


def _take_live(environments: list[Any], people: dict[str, Any]) -> None:
    """OLD, then NEW over it, live in every environment (approved, through the backend)."""
    from releases import services
    from releases.models import StepStatus
    from tests.fixtures.releases import CARD, go_live, pass_every_gate, stack

    releases = []
    for version in (OLD, NEW):
        release = services.create_release(
            actor=people["mona"], system=environments[0].system, version=version,
            title=f"Fraud model {version}", card=CARD, components=stack(version),
            change_categories=["major_dataset_refresh"],
        )  # fmt: skip
        pass_every_gate(release, people["mona"])
        services.save_rollback_plan(
            actor=people["mona"], release=release, environment=environments[0],
            owners=[people["rollback_owner"]], mode="manual", cooldown_minutes=30, triggers=[],
        )  # fmt: skip
        services.submit_release(actor=people["mona"], release=release)
        for approver in ("ravi", "rita"):
            services.record_approval(
                actor=people[approver], release=release, decision="approve", comment="ok"
            )
        release.refresh_from_db()
        releases.append(release)
    for release in releases:
        for environment in environments:
            step = go_live(release, people["ravi"], environment)
            if step.status != StepStatus.APPLIED:
                raise RuntimeError(f"{release} not live in {environment}: {step.error}")


def plan(targets: list[Target], presses: int) -> list[Press]:
    """`presses` presses over the environments, each environment's over every kind of caller."""
    kinds = list(CALLERS)
    return [
        Press(
            target=targets[n % len(targets)],
            kind=kinds[(n // len(targets)) % len(kinds)],
            basic=n % BASIC_EVERY == 0,
        )
        for n in range(presses)
    ]


# --- the burst -------------------------------------------------------------------------------


def credentials(press: Press, callers: dict[str, dict[str, Caller]]) -> str:
    systems = sorted(callers)
    system = press.target.system
    if press.kind == "outsider":
        other = systems[1 - systems.index(system)]
        caller = callers[other]["rollback_owner"]  # who may press there, not here
    else:
        caller = callers[system][press.kind]
    if press.basic:
        raw = base64.b64encode(f"{caller.username}:{PASSWORD}".encode()).decode()
        return f"Basic {raw}"
    return f"Bearer {caller.token}"


def fire(port: int, presses: list[Press], callers: dict[str, dict[str, Caller]]) -> float:
    """Every press at once, each on a fresh connection; returns the seconds the burst took."""
    barrier = threading.Barrier(len(presses) + 1)

    def press_once(press: Press) -> None:
        body = json.dumps({"reason": "Review rate tripled: ROLL BACK NOW"})
        headers = {
            "Authorization": credentials(press, callers),
            "Content-Type": "application/json",
            "Connection": "close",
        }
        connection = http.client.HTTPConnection(HOST, port, timeout=PRESS_TIMEOUT)
        barrier.wait()
        try:
            connection.request(
                "POST", f"/api/environments/{press.target.pk}/rollback/", body, headers
            )
            response = connection.getresponse()
            raw = response.read()
            press.status, press.retry_after = response.status, response.getheader("Retry-After")
            with contextlib.suppress(ValueError):
                press.body = json.loads(raw)
        except Exception as error:  # a reset, a refused connection, a timeout: all counted
            press.error = type(error).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=press_once, args=(p,)) for p in presses]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


class SessionCounter:
    """PostgreSQL's client sessions on make run's database (not this script's), every 50 ms."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(f"{url}&application_name={APP}", autocommit=True)
        self.most = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._count, daemon=True)

    def _count(self) -> None:
        while not self._done.wait(0.05):
            row = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND application_name <> %s",
                [APP],
            ).fetchone()
            self.most = max(self.most, row[0] if row else 0)

    def __enter__(self) -> SessionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
        self.connection.close()


def settle(targets: list[Target]) -> dict[str, int]:
    """Wait until every environment's rollback finished; their statuses, counted."""
    from django.db import connection

    from releases.models import RollbackRequest

    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        statuses = Counter(
            RollbackRequest.objects.filter(environment__in=[t.pk for t in targets]).values_list(
                "status", flat=True
            )
        )
        connection.close()
        if statuses["requested"] + statuses["running"] == 0 or time.monotonic() > deadline:
            return dict(statuses)
        time.sleep(0.2)


# --- the verdict -----------------------------------------------------------------------------


def verdict(
    presses: list[Press], targets: list[Target], receiver: Any, statuses: dict[str, int]
) -> tuple[dict[str, Any], list[str]]:
    answers = Counter(p.status for p in presses if p.status is not None)
    errors = Counter(p.error for p in presses if p.error)
    resets = sum(n for name, n in errors.items() if "Reset" in name or "Disconnected" in name)
    problems = []
    for press in presses:
        expected = CALLERS[press.kind]
        allowed = {200, 202} if expected == 202 else {expected}
        if press.status not in allowed:
            problems.append(
                f"{press.kind}{' (Basic)' if press.basic else ''} on {press.target.system}/"
                f"{press.target.slug}: {press.status or press.error} {press.body or ''}"
            )
    created = Counter(p.target for p in presses if p.status == 202)
    for target in targets:
        if created[target] != 1:
            problems.append(f"{target.system}/{target.slug}: {created[target]} presses got 202")
    rollbacks = [c for c in receiver.calls if c.action == "rollback"]
    per_environment = Counter((c.json["system"], c.json["environment"]) for c in rollbacks)
    calls = [per_environment[(t.system, t.slug)] for t in targets]
    for target, n in zip(targets, calls, strict=True):
        if n != 1:
            problems.append(f"{target.system}/{target.slug}: {n} rollback calls at the backend")
    if statuses.get("succeeded", 0) != len(targets):
        problems.append(f"rollbacks by status: {statuses}")
    figures = {
        "presses": len(presses),
        "environments": len(targets),
        "resets": resets,
        "errors": sum(errors.values()),
        "server_errors": sum(n for status, n in answers.items() if status >= 500),
        "answers_503": answers[503],
        "accepted": answers[202],
        "repeated": answers[200],
        "forbidden": answers[403],
        "not_found": answers[404],
        "backend_calls_min": min(calls),
        "backend_calls_max": max(calls),
        "succeeded": statuses.get("succeeded", 0),
    }
    if errors:
        problems.append(f"errors: {dict(errors)}")
    return figures, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--environments", type=int, default=10)
    args = parser.parse_args()
    if args.environments < 2 or args.presses < args.environments * len(CALLERS):
        parser.error(f"at least 2 environments and {len(CALLERS)} presses per environment")

    data_dir = project_data_dir() / f"press-burst-{os.getpid()}"
    data_dir.mkdir(parents=True)
    log, port = data_dir / "make-run.log", _free_port()
    print(f"Starting make run in {data_dir} on port {port} …", flush=True)
    started = time.monotonic()
    process = start_make_run(data_dir, port, log)
    print(f"make run serves after {time.monotonic() - started:.1f}s", flush=True)
    ok = False
    try:
        url = use_database_of(data_dir)
        from django.db import connection

        from tests.fixtures.webhook_server import WebhookReceiver

        with WebhookReceiver() as receiver:
            targets, callers = build(receiver, args.environments)
            receiver.set_live(NEW)
            connection.close()
            presses = plan(targets, args.presses)
            print(f"{len(presses)} presses on {len(targets)} environments, all at once …")
            with SessionCounter(url) as sessions:
                seconds = fire(port, presses, callers)
                statuses = settle(targets)
            figures, problems = verdict(presses, targets, receiver, statuses)
        figures.update(burst_s=f"{seconds:.2f}", db_sessions_max=sessions.most)
        for problem in problems[:20]:
            print(f"  FAILED: {problem}", flush=True)
        ok = not problems
        figures["ok"] = str(ok).lower()
        print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    except BaseException:
        print(f"--- the end of {log.name}:\n{_tail(log)}", file=sys.stderr)
        raise
    finally:
        stop_make_run(process)
        if ok:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"The data and make run's log are kept in {data_dir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

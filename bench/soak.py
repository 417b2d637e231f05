"""Soak: 100 concurrent clients against the whole stack, steady and then with faults.

    .venv/bin/python bench/soak.py [--clients 100] [--seconds 300] [--faults/--no-faults]

Brings up, in a fresh data folder, the stack production runs, two of each: the embedded
PostgreSQL and Redis broker; a general Celery worker and a rollback worker that consumes only
the rollback queue (prefork, concurrency 2 each, the production settings: late
acknowledgement, prefetch 1); two Celery beats, one holding the lock and its hot standby (the
rollback sweep every 5 s, the audit sealer every second, a checkpoint every 2 s); two
gunicorns behind a round-robin balancer (bench/balancer.py); and one webhook receiver
(tests/fixtures/webhook_server.py, in this process) behind every environment. Each gunicorn
runs 2 workers of 8 threads (gthread): threads let a process keep serving while its other
requests wait on PostgreSQL or the broker; 32 database connections stay well inside
PostgreSQL's 100.

The data, built through the services: for each phase, 3 high-risk AI systems with their
environments (enough that every rollback press on a fresh one lands on an environment of
its own: a rollback is active per environment at most), 2.0.0 then 2.1.0 taken live in each
through the webhook backend, one open incident per environment (declared by the on-call
lead), and an alert token per system. One user per client, holding a role on every
system: rollback owners and on-call leads (who press ROLL BACK NOW), responders and viewers.

Each client logs in through the login form (its own session), then until the phase ends
picks an action by its role's weights, waits a think time (0.2 to 1.8 s, a person at a
browser) and starts again:

  page      GET a page: home, systems, a system, releases, a release, incidents, a war room,
            the incident dashboard, action items, a system's environments
  api_read  GET an API list or detail: systems, releases, incidents, a timeline, rollbacks
  api_write a timeline note (API or the war room's form), an action item (API)
  alert     POST the generic alert webhook with the system's bearer token: a few fingerprints
            per environment, so alerts open a few incidents and then join them
  rollback  the war room's ROLL BACK NOW button (the form with the CSRF token, then the
            redirect back to the room) or the API's rollback action; a fresh environment at
            about --press-rate per second, else a second press of a recent one (which must
            return the rollback already pending or just done)

The fault phase does the same while, one of each: it restarts the Redis broker; SIGKILLs the
rollback worker (its whole process group, as the kernel's OOM killer or a node loss would) in
the middle of a rollback (after the backend applied it, before the worker recorded it) and
starts a new one as a supervisor would; SIGKILLs the beat holding the lock, so the standby
takes over (the first checkpoint after the kill says when); SIGKILLs a web server, whose
in-flight requests get no answer while the balancer sends the rest to the other; and restarts
PostgreSQL (down for a few seconds). In both phases a worker that ends by itself is started
again, as its supervisor would in production, and its exit is reported. While PostgreSQL is
down a request that needs it gets a 503 with Retry-After (a JSON body under /api/, the error
page elsewhere); that is the correct answer during the outage window (from the stop to a few
seconds after the start), a 500 never is.

After each phase, bounded: every rollback request settles (none left requested or running;
each succeeded, or failed with its reason), every environment whose press was answered as
recorded has its request (none lost), the receiver applied exactly one rollback per
succeeded request and no environment twice (none doubled), the audit chains verify
(governance/audit/verify_chain.py, every chain and the checkpoints), the standby beat wrote a
checkpoint after the kill, no request went unanswered but those the killed web server held,
and no 5xx (steady) or only 503s in the outage window (faults). The last line of each phase
is key=value pairs; the exit status is non-zero when any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import HOST, _free_port, start_gunicorn, stop_gunicorn  # noqa: E402
from bench.results_section import write_soak_section  # noqa: E402
from bench.rollback_latency import _tail, start_worker, stop_worker  # noqa: E402
from config.embedded import (  # noqa: E402
    EmbeddedPostgres,
    EmbeddedRedis,
    evidence_signing_key_file,
    project_data_dir,
)
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

if TYPE_CHECKING:
    from tests.fixtures.webhook_server import WebhookReceiver

PASSWORD = "soak only: correct horse battery staple"
OLD, NEW = "2.0.0", "2.1.0"  # every rollback puts OLD back in place of NEW
SYSTEMS_PER_PHASE = 3
WEB_WORKERS, WEB_THREADS = 2, 8  # bench/pages.py's start_gunicorn starts 2 workers
THINK_SECONDS = (0.2, 1.8)
KEEP_ALIVE_SECONDS = 10
CLIENT_TIMEOUT = 60.0  # seconds for one request: longer is a hang, counted as an error
HOLD_SECONDS = 3.0  # the receiver's answers to rollbacks, while the worker is killed
OUTAGE_GRACE = 5.0  # seconds after PostgreSQL is back during which a 503 is still fine
WEB_KILL_GRACE = CLIENT_TIMEOUT  # a request the killed web server held may fail until then
WEB_SERVERS = 2
BEATS = 2  # the active one and its standby (the lock in Redis: config/celery.py)
ROLLBACK_QUEUE = "rollbacks"  # a queue of its own, consumed by the rollback worker only
CHECKPOINT_SECONDS = 2  # often enough to see when the standby beat took over
REPRESS_WITHIN = 240.0  # seconds: a second press comes this soon (ROLLBACK_REPRESS_SECONDS)
OK_STATUSES = {200, 201, 202, 204, 302}  # every request the clients send is valid: no 4xx
_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
_FORM_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# Who the clients are, in turn, and what each does how often (weights).
ROLES = [
    "rollback_owner", "responder", "viewer", "responder", "oncall_lead",
    "viewer", "responder", "rollback_owner", "viewer", "responder",
]  # fmt: skip
WEIGHTS = {
    "viewer": {"page": 70, "api_read": 25, "alert": 5},
    "responder": {"page": 50, "api_read": 20, "api_write": 25, "alert": 5},
    "rollback_owner": {"page": 55, "api_read": 20, "alert": 5, "rollback": 20},  # no notes
    "oncall_lead": {"page": 50, "api_read": 15, "api_write": 10, "alert": 5, "rollback": 20},
}


# --- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """An environment with NEW live on top of OLD, and the open incident of its war room."""

    system: str
    environment: str
    environment_pk: int
    incident_pk: int
    release_pk: int  # NEW, of the room's system


@dataclass
class Scene:
    name: str
    systems: list[str]
    rooms: list[Room]
    tokens: dict[str, str]  # system slug: alert token


def build_people(clients: int) -> tuple[Any, dict[str, Any], list[tuple[str, str]]]:
    """The registrar, the staff every system needs, and one user per client with its role.
    One password hash for all: 100 PBKDF2 hashes would cost the machine half a minute."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission

    users = get_user_model().objects
    registrar = users.create_user("olivia", "olivia@example.com", None)
    registrar.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    staff = {
        username: users.create_user(username, f"{username}@example.com", None)
        for username in ("mona", "ravi", "rita", "rob", "olga")
    }
    hashed = make_password(PASSWORD)
    people = [(f"client{n:03d}", ROLES[n % len(ROLES)]) for n in range(clients)]
    users.bulk_create(
        get_user_model()(username=name, email=f"{name}@example.com", password=hashed)
        for name, _ in people
    )
    return registrar, staff, people


def build_scene(
    name: str,
    receiver: WebhookReceiver,
    registrar: Any,
    staff: dict[str, Any],
    people: list[tuple[str, str]],
    rooms: int,
) -> Scene:
    """SYSTEMS_PER_PHASE systems sharing `rooms` environments, everything through the services."""
    from django.contrib.auth import get_user_model

    from governance import services as governance
    from governance.roles import Role
    from incidents import services as incidents
    from incidents.services.alert_tokens import create_alert_token
    from releases import services
    from releases.models import BackendType, StepStatus
    from tests.fixtures.releases import CARD, go_live, pass_every_gate, stack

    clients = {u.username: u for u in get_user_model().objects.filter(username__startswith="cl")}
    roles = {"mona": Role.MODEL_OWNER, "ravi": Role.RELEASE_MANAGER, "rita": Role.RELEASE_MANAGER,
             "rob": Role.ROLLBACK_OWNER, "olga": Role.ONCALL_LEAD}  # fmt: skip
    scene = Scene(name, [], [], {})
    per_system = math.ceil(rooms / SYSTEMS_PER_PHASE)
    for s in range(SYSTEMS_PER_PHASE):
        system = governance.create_system(
            actor=registrar, name=f"Fraud screening {name} {s + 1}", slug=f"{name}-{s + 1}",
            intended_purpose="Scores card payments for fraud before authorisation.",
            risk_category="high",
        )  # fmt: skip
        for username, role in roles.items():
            governance.grant_role(actor=registrar, system=system, role=role, user=staff[username])
        for username, client_role in people:
            user = clients[username]
            governance.grant_role(actor=registrar, system=system, role=client_role, user=user)
        environments = []
        for n in range(per_system):  # every one on the receiver
            environment = services.create_environment(
                actor=registrar, system=system, name=f"Region {n:03d}",
                slug=f"{system.slug}-r{n:03d}", backend_type=BackendType.WEBHOOK,
                backend_config=receiver.backend_config(),
                backend_secrets={"signing_secret": receiver.secret},
            )  # fmt: skip
            environments.append(environment)
        releases = []
        for version in (OLD, NEW):
            release = services.create_release(
                actor=staff["mona"], system=system, version=version,
                title=f"Fraud model {version}", card=CARD, components=stack(version),
                change_categories=["major_dataset_refresh"],
            )  # fmt: skip
            pass_every_gate(release, staff["mona"])
            services.save_rollback_plan(
                actor=staff["mona"], release=release, environment=environments[0],
                owners=[staff["rob"]], mode="manual", cooldown_minutes=30, triggers=[],
            )  # fmt: skip
            services.submit_release(actor=staff["mona"], release=release)
            for approver in ("ravi", "rita"):
                services.record_approval(
                    actor=staff[approver], release=release, decision="approve", comment="ok"
                )
            release.refresh_from_db()
            releases.append(release)
        for release in releases:  # OLD everywhere first, then NEW over it
            for environment in environments:
                step = go_live(release, staff["ravi"], environment)
                if step.status != StepStatus.APPLIED:
                    raise RuntimeError(f"{release} not live in {environment}: {step.error}")
        for environment in environments:
            incident = incidents.declare_incident(
                actor=staff["olga"], system=system, environment=environment, severity="sev2",
                title=f"Review rate tripled in {environment.name}", category="drift",
            )  # fmt: skip
            scene.rooms.append(
                Room(system.slug, environment.slug, environment.pk, incident.pk, releases[1].pk)
            )
        scene.systems.append(system.slug)
        scene.tokens[system.slug] = create_alert_token(
            actor=registrar, system=system, name="soak monitoring"
        )[1]
    random.Random(name).shuffle(scene.rooms)  # fresh presses spread over the systems
    return scene


# --- processes -------------------------------------------------------------------------------


@dataclass
class Worker:
    """One Celery worker of the stack: which queues it consumes, its process, its logs."""

    name: str
    queues: str
    process: subprocess.Popen | None = None
    started: int = 0

    def log(self, data_dir: Path) -> Path:
        return data_dir / f"worker-{self.name}-{self.started}.log"


class Stack:
    """The servers of one run (two of each web server, worker and beat, as production runs
    them), and the faults done to them (with their times)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env = data_dir, env
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedRedis | None = None
        # The general worker takes every queue but the rollbacks'; the rollback worker takes
        # only that one, so no backlog of other work ever stands before a rollback.
        self.workers = [Worker("general", "celery"), Worker("rollback", ROLLBACK_QUEUE)]
        self.beats: list[subprocess.Popen | None] = [None] * BEATS
        self.webs: dict[int, subprocess.Popen | None] = {}  # port: gunicorn
        self.balancer: subprocess.Popen | None = None
        self.port = 0  # the balancer's: where the clients go
        self.receiver: WebhookReceiver | None = None
        self.worker_exits: list[tuple[float, str]] = []  # ended by itself: when, what
        self.worker_lock = threading.Lock()  # the supervisor and the faults take turns
        self.faults: list[tuple[float, float, str]] = []  # (start, end) monotonic, what
        self.outages: list[tuple[float, float]] = []  # PostgreSQL down: 503s are fine here
        self.web_kills: list[tuple[float, float]] = []  # a dropped connection is fine here
        self.beat_kills: list[float] = []  # wall clock: the checkpoints show the takeover

    @property
    def logs(self) -> list[Path]:
        workers = [w.log(self.data_dir) for w in self.workers if w.started]
        beats = [self.data_dir / f"beat-{n}.log" for n in range(BEATS)]
        webs = [self.data_dir / f"gunicorn-{port}.log" for port in self.webs]
        return [*webs, *beats, *workers]

    def start_workers(self) -> None:
        for worker in self.workers:
            self.start_worker(worker)

    def start_worker(self, worker: Worker) -> None:
        worker.started += 1
        worker.process = start_worker(self.env, worker.queues, worker.log(self.data_dir))

    def supervise_workers(self) -> None:
        """A worker that ended by itself is started again, as its supervisor would in
        production (docker compose's restart policy); the exit is reported with the faults."""
        with self.worker_lock:
            for worker in self.workers:
                if worker.process is None or worker.process.poll() is None:
                    continue
                code, log = worker.process.returncode, worker.log(self.data_dir).name
                what = f"{worker.name} worker exited by itself (code {code}, see {log})"
                self.worker_exits.append((time.monotonic(), what))
                self.start_worker(worker)
                print(f"  {what}; started a new one", flush=True)

    def start_beat(self, n: int) -> None:
        args = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
        env = dict(self.env, LOG_LEVEL="INFO", LOG_FORMAT="text")
        with (self.data_dir / f"beat-{n}.log").open("ab") as out:
            self.beats[n] = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def start_beats(self) -> None:
        """The first beat takes the lock before the standby starts: the fault kills the one
        that holds it."""
        self.start_beat(0)
        deadline = time.monotonic() + 60
        log = self.data_dir / "beat-0.log"
        while "Sending due task" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"beat sent no task within 60 s:\n{_tail(log)}")
            time.sleep(0.2)
        for n in range(1, BEATS):
            self.start_beat(n)

    def start_web(self, port: int) -> None:
        # gunicorn turns the sync worker class into gthread when given threads. Keep-alive
        # outlasts a client's think time: a connection closed by the server just as the
        # client reuses it would fail the request (in production the proxy's idle timeout,
        # shorter than this, decides).
        args = f"--threads {WEB_THREADS} --timeout 30 --keep-alive {KEEP_ALIVE_SECONDS}"
        metrics = self.data_dir / f"prometheus-{port}"  # each server sums its own processes
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        env = dict(self.env, GUNICORN_CMD_ARGS=args, PROMETHEUS_MULTIPROC_DIR=str(metrics))
        self.webs[port] = start_gunicorn(env, port, self.data_dir / f"gunicorn-{port}.log")

    def start_front(self) -> None:
        """WEB_SERVERS gunicorns behind the round-robin balancer (bench/balancer.py)."""
        for _ in range(WEB_SERVERS):
            self.start_web(_free_port())
        self.port = _free_port()
        args = [sys.executable, str(ROOT / "bench" / "balancer.py"), "--listen", str(self.port)]
        for port in self.webs:
            args += ["--backend", str(port)]
        self.balancer = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True,
        )  # fmt: skip
        assert self.balancer.stdout is not None
        if self.balancer.stdout.readline().strip() != "listening":
            raise RuntimeError("the balancer did not start")

    # Faults (blocking: run in a thread while the clients go on)

    def restart_broker(self, down: float) -> None:
        assert self.broker is not None
        started = time.monotonic()
        self.broker.stop()
        time.sleep(down)
        self.broker = EmbeddedRedis.start(self.data_dir / "redis", persist=False)
        self.faults.append((started, time.monotonic(), f"broker restarted ({down:g} s down)"))

    def kill_worker(self, down: float) -> None:
        """SIGKILL the rollback worker in the middle of a rollback: the receiver holds its
        answers a while, so the kill lands after the backend applied a rollback and before the
        worker recorded it (the case the idempotency key is for; the sweep takes the run over
        after its lease)."""
        worker = self.workers[1]
        assert worker.process is not None and self.receiver is not None
        self.receiver.delay(HOLD_SECONDS)
        deadline = time.monotonic() + 20
        while not self.receiver.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        held = "mid-rollback" if self.receiver.in_flight else "with no rollback in flight"
        started = time.monotonic()
        with self.worker_lock:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)  # the worker and its pool
            worker.process.wait()
            self.receiver.delay(0)
            time.sleep(down)  # the supervisor notices, then starts a new one
            self.start_worker(worker)
        what = f"rollback worker SIGKILLed {held}, a new one up ({down:g} s down)"
        self.faults.append((started, time.monotonic(), what))

    def kill_web(self, down: float) -> None:
        """SIGKILL one web server (its master and workers, as a node loss would): the requests
        it was answering get no answer; the balancer sends the rest to the other one. Its
        supervisor starts it again after `down`."""
        port = next(iter(self.webs))
        process = self.webs[port]
        assert process is not None
        started = time.monotonic()
        self.web_kills.append((started, math.inf))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(down)
        self.start_web(port)
        ended = time.monotonic()
        self.web_kills[-1] = (started, started + WEB_KILL_GRACE)
        self.faults.append((started, ended, f"web server :{port} SIGKILLed, back after {down:g} s"))

    def kill_beat(self, down: float) -> None:
        """SIGKILL the beat holding the lock; the standby takes over within the lock's
        timeout. Its supervisor starts it again after `down`: it becomes the standby."""
        process = self.beats[0]
        assert process is not None
        started = time.monotonic()
        self.beat_kills.append(time.time())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(down)
        self.start_beat(0)
        what = f"active beat SIGKILLed, started again after {down:g} s"
        self.faults.append((started, time.monotonic(), what))

    def restart_database(self, down: float) -> None:
        assert self.postgres is not None
        started = time.monotonic()
        self.outages.append((started, math.inf))  # from now on a 503 is a correct answer
        self.postgres.stop()
        time.sleep(down)
        self.postgres = EmbeddedPostgres.start(self.postgres.data_dir)
        ended = time.monotonic()
        self.outages[-1] = (started, ended + OUTAGE_GRACE)
        self.faults.append((started, ended, f"PostgreSQL restarted ({down:g} s down)"))

    def in_outage(self, start: float, end: float) -> bool:
        return any(start <= until and end >= since for since, until in self.outages)

    def in_web_kill(self, start: float, end: float) -> bool:
        return any(start <= until and end >= since for since, until in self.web_kills)

    def stop(self) -> None:
        if self.balancer is not None and self.balancer.poll() is None:
            self.balancer.terminate()
            self.balancer.wait(timeout=10)
        for server in self.webs.values():
            if server is not None:
                stop_gunicorn(server)
        for process in [*self.beats, *(w.process for w in self.workers)]:
            if process is not None:
                stop_worker(process)  # its own session: SIGTERM the group, then SIGKILL
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            self.postgres.stop()


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What one phase's clients did and got."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind: seconds
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    server_errors: list[tuple[float, float, str, int, str]] = field(default_factory=list)
    transport: Counter = field(default_factory=Counter)  # (kind, exception class)
    unanswered: list[tuple[float, float]] = field(default_factory=list)  # (start, end)
    pressed: set[int] = field(default_factory=set)  # environments whose press was recorded
    api_requests: set[int] = field(default_factory=set)  # rollback ids the API answered with
    presses: int = 0
    fresh: int = 0
    client_cpu: float = 0.0  # CPU seconds of this process (the clients and the receiver)

    def add(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[(kind, status)] += 1
        self.latencies.setdefault(kind, []).append(seconds)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class Presses:
    """Which environment a press goes to: a fresh one at `rate` per second, else a recent one
    again (whose rollback is pending or just done: the press must return it)."""

    def __init__(self, rooms: list[Room], rate: float) -> None:
        self.rooms, self.rate = rooms, rate
        self.next, self.started = 0, time.monotonic()
        self.recent: list[tuple[float, Room]] = []

    def choose(self) -> tuple[Room, bool] | None:
        now = time.monotonic()
        due = self.rate * (now - self.started) + 1
        if self.next < len(self.rooms) and self.next < due:
            room = self.rooms[self.next]
            self.next += 1
            self.recent = [*self.recent[-7:], (now, room)]
            return room, True
        recent = [room for at, room in self.recent if now - at < REPRESS_WITHIN]
        return (random.choice(recent), False) if recent else None


class Client:
    def __init__(
        self, n: int, username: str, role: str, port: int, scene: Scene, tally: Tally,
        presses: Presses, stack: Stack,
    ) -> None:  # fmt: skip
        self.n, self.username, self.role = n, username, role
        self.scene, self.tally, self.presses, self.stack = scene, tally, presses, stack
        self.random = random.Random(n)
        self.http = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            timeout=CLIENT_TIMEOUT,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            headers={"User-Agent": f"failsafe-soak/{n}"},
        )
        self.token = ""
        self.after: dict[int, int] = {}  # incident: last timeline id seen

    async def log_in(self) -> None:
        page = await self.http.get("/login/")
        form = _FORM_TOKEN.search(page.text)
        if page.status_code != 200 or form is None:
            raise RuntimeError(f"GET /login/ answered {page.status_code} without a CSRF token")
        data = {"csrfmiddlewaretoken": form.group(1), "username": self.username,
                "password": PASSWORD}  # fmt: skip
        answer = await self.http.post("/login/", data=data)
        if answer.status_code != 302 or "sessionid" not in self.http.cookies:
            raise RuntimeError(f"{self.username} could not log in: {answer.status_code}")
        home = await self.http.get("/")
        token = _TOKEN.search(home.text)
        if token is None:
            raise RuntimeError(f"the home page carries no CSRF token: {home.text[:300]!r}")
        self.token = token.group(1)

    async def run(self, until: float) -> None:
        weights = WEIGHTS[self.role]
        kinds, shares = list(weights), list(weights.values())
        await asyncio.sleep(self.random.uniform(0, THINK_SECONDS[1]))  # not all at once
        while time.monotonic() < until:
            kind = self.random.choices(kinds, shares)[0]
            room = self.random.choice(self.scene.rooms)
            await getattr(self, kind)(room)
            await asyncio.sleep(self.random.uniform(*THINK_SECONDS))

    async def call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            self.tally.transport[(kind, type(error).__name__)] += 1
            self.tally.unanswered.append((started, time.monotonic()))
            return None
        ended = time.monotonic()
        self.tally.add(kind, response.status_code, ended - started)
        status = response.status_code
        if status >= 500:
            what = f"{method} {path}"
            self.tally.server_errors.append((started, ended, what, status, response.text))
        return response

    # The actions

    async def page(self, room: Room) -> None:
        path = self.random.choice(
            [
                "/", "/systems/", f"/systems/{room.system}/", "/releases/",
                f"/releases/{room.release_pk}/", "/incidents/", f"/incidents/{room.incident_pk}/",
                f"/incidents/{room.incident_pk}/", "/incidents/dashboard/", "/action-items/",
                f"/systems/{room.system}/environments/",
            ]
        )  # fmt: skip
        await self.call("page", "GET", path)

    async def api_read(self, room: Room) -> None:
        incident = room.incident_pk
        path = self.random.choice(
            [
                "/api/systems/", f"/api/systems/{room.system}/",
                f"/api/releases/?system={room.system}", f"/api/releases/{room.release_pk}/",
                f"/api/incidents/?system={room.system}&open=true", f"/api/incidents/{incident}/",
                f"/api/incidents/{incident}/timeline/?after={self.after.get(incident, 0)}",
                "/api/rollbacks/?limit=20",
            ]
        )  # fmt: skip
        response = await self.call("api_read", "GET", path)
        if response is not None and response.status_code == 200 and "/timeline/" in path:
            entries = response.json()
            if entries:
                self.after[incident] = entries[-1]["id"]

    async def api_write(self, room: Room) -> None:
        incident, what = room.incident_pk, self.random.random()
        body = (
            f"{self.username}: review rate {self.random.uniform(1, 9):.1f} % in {room.environment}"
        )
        headers = {"X-CSRFToken": self.token}
        if what < 0.4:
            await self.call(
                "api_write", "POST", f"/api/incidents/{incident}/timeline/",
                json={"kind": "note", "body": body}, headers=headers,
            )  # fmt: skip
        elif what < 0.8:  # the war room's form, as a browser posts it
            data = {"csrfmiddlewaretoken": self.token, "kind": "note", "body": body}
            await self.call("api_write", "POST", f"/incidents/{incident}/posts/", data=data)
        else:
            await self.call(
                "api_write", "POST", f"/api/incidents/{incident}/action-items/",
                json={"title": f"Follow up: {body}"[:200], "owner": self.username},
                headers=headers,
            )  # fmt: skip

    async def alert(self, room: Room) -> None:
        firing = self.random.random() < 0.9
        payload = {
            "name": "ReviewRateHigh", "severity": "warning", "environment": room.environment,
            "fingerprint": f"soak-{room.environment}-{self.random.randrange(3)}",
            "status": "firing" if firing else "resolved",
            "annotations": {"summary": f"Review rate high in {room.environment}"},
        }  # fmt: skip
        headers = {"Authorization": f"Bearer {self.scene.tokens[room.system]}"}
        await self.call("alert", "POST", "/api/alerts/", json=payload, headers=headers)

    async def rollback(self, room: Room) -> None:
        chosen = self.presses.choose()
        if chosen is None:  # nothing fresh is due and nothing recent to press again
            await self.page(room)
            return
        room, fresh = chosen
        self.tally.presses += 1
        self.tally.fresh += fresh
        reason = f"INC-{room.incident_pk}: soak press by {self.username}"
        if self.random.random() < 0.6:  # the war room's button, then back to the room
            data = {"csrfmiddlewaretoken": self.token, "reason": reason}
            path = f"/incidents/{room.incident_pk}/rollback/"
            response = await self.call("rollback", "POST", path, data=data)
            if response is not None and response.status_code == 302:
                self.tally.pressed.add(room.environment_pk)
                await self.call("page", "GET", f"/incidents/{room.incident_pk}/")
        else:
            response = await self.call(
                "rollback", "POST", f"/api/incidents/{room.incident_pk}/rollback/",
                json={"reason": reason}, headers={"X-CSRFToken": self.token},
            )  # fmt: skip
            if response is not None and response.status_code in (200, 202):
                self.tally.pressed.add(room.environment_pk)
                self.tally.api_requests.add(response.json()["id"])


# --- a phase ---------------------------------------------------------------------------------


FAULTS = [  # (share of the phase, what, seconds down): one of each
    (0.12, "restart_broker", 3.0),
    (0.26, "kill_worker", 2.0),
    (0.38, "kill_beat", 5.0),
    (0.58, "kill_web", 3.0),
    (0.76, "restart_database", 5.0),
]


async def run_phase(
    clients: list[Client], seconds: float, stack: Stack, faults: bool
) -> tuple[float, float]:
    started = time.monotonic()
    until = started + seconds

    async def inject() -> None:
        for share, fault, down in FAULTS:
            await asyncio.sleep(max(0.0, started + share * seconds - time.monotonic()))
            print(f"  {time.monotonic() - started:6.1f} s  fault: {fault}", flush=True)
            await asyncio.to_thread(getattr(stack, fault), down)

    async def progress() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(30.0, max(0.1, until - time.monotonic())))
            tally = clients[0].tally
            five = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
            print(
                f"  {time.monotonic() - started:6.1f} s  {tally.requests} requests, "
                f"{tally.presses} presses ({tally.fresh} fresh), 5xx {five}, "
                f"transport errors {sum(tally.transport.values())}",
                flush=True,
            )

    async def supervise() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(0.5, max(0.0, until - time.monotonic())))
            await asyncio.to_thread(stack.supervise_workers)

    cpu = time.process_time()
    tasks = [asyncio.create_task(c.run(until)) for c in clients]
    helpers = [asyncio.create_task(progress()), asyncio.create_task(supervise())]
    if faults:
        helpers.append(asyncio.create_task(inject()))
    await asyncio.gather(*tasks, *helpers)
    clients[0].tally.client_cpu = time.process_time() - cpu
    return started, time.monotonic()


def settle(scene: Scene, timeout: float) -> float:
    """Until no rollback of the phase is active, at most `timeout` s; the seconds it took."""
    from django.db import connections

    from releases.models import RollbackRequest, RollbackStatus

    started = time.monotonic()
    environments = [room.environment_pk for room in scene.rooms]
    while time.monotonic() - started < timeout:
        try:
            active = RollbackRequest.objects.filter(
                environment_id__in=environments, status__in=RollbackStatus.active()
            ).exists()
        except Exception:  # the database was restarted under this process's connection
            connections.close_all()
            active = True
        if not active:
            break
        time.sleep(0.5)
    return time.monotonic() - started


@dataclass
class Outcome:
    rollbacks: int = 0
    succeeded: int = 0
    failed: int = 0
    failed_without_reason: int = 0
    stuck: int = 0
    lost: int = 0
    doubled: int = 0
    missing_effect: int = 0
    replays: int = 0  # rollback calls the receiver answered from its idempotency record
    attempts_over_one: int = 0
    chain: str = "ok"
    events: int = 0
    checkpoints: int = 0  # signed, every signature verified
    beat_takeovers: list[float] = field(default_factory=list)  # seconds, one per beat kill
    problems: list[str] = field(default_factory=list)


def check(scene: Scene, tally: Tally, receiver: WebhookReceiver, stack: Stack) -> Outcome:
    from django.db import connections

    from governance.audit.chain import seal_all
    from governance.audit.verify_chain import verify_all
    from governance.models import AuditCheckpoint
    from releases.models import RollbackRequest, RollbackStatus

    connections.close_all()  # PostgreSQL may have been restarted since this process asked
    out = Outcome()
    environments = [room.environment_pk for room in scene.rooms]
    requests = list(RollbackRequest.objects.filter(environment_id__in=environments))
    out.rollbacks = len(requests)
    by_status = Counter(r.status for r in requests)
    out.succeeded, out.failed = (
        by_status[RollbackStatus.SUCCEEDED],
        by_status[RollbackStatus.FAILED],
    )
    out.stuck = sum(n for status, n in by_status.items() if status in RollbackStatus.active())
    out.failed_without_reason = sum(
        1 for r in requests if r.status == RollbackStatus.FAILED and not r.error.strip()
    )
    out.attempts_over_one = sum(1 for r in requests if r.attempts > 1)
    with_request = {r.environment_id for r in requests}
    ids = {r.pk for r in requests}
    out.lost = len(tally.pressed - with_request) + len(tally.api_requests - ids)

    # Effects at the receiver: one applied rollback per succeeded request, none anywhere else.
    keys = {r.idempotency_key: r for r in requests}
    applied = [a for a in receiver.applied.values() if a.action == "rollback"]
    ours = [a for a in applied if a.idempotency_key in keys]
    per_environment = Counter(keys[a.idempotency_key].environment_id for a in ours)
    out.doubled = sum(n - 1 for n in per_environment.values() if n > 1)
    applied_keys = {a.idempotency_key for a in ours}
    out.missing_effect = sum(
        1
        for r in requests
        if r.status == RollbackStatus.SUCCEEDED and r.idempotency_key not in applied_keys
    )
    out.replays = sum(
        1
        for c in receiver.calls
        if c.action == "rollback" and c.idempotency_key in keys and not c.applied
    )

    sealed = seal_all()  # what the sealer had not reached yet
    verification = verify_all(require_signatures=True)
    out.events = verification.events
    if verification.checkpoints is not None:
        out.checkpoints = verification.checkpoints.signed
    if not verification.ok or verification.pending:
        out.chain = "broken"
        out.problems += [str(b) for b in verification.breaks]
        if verification.pending:
            out.problems.append(f"{verification.pending} audit events unsealed after sealing")
    del sealed
    # The standby beat took over when the checkpoints (every CHECKPOINT_SECONDS) went on.
    for killed in stack.beat_kills:
        when = datetime.fromtimestamp(killed, tz=UTC)
        first = (
            AuditCheckpoint.objects.filter(created_at__gt=when)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if first is None:
            out.problems.append("no checkpoint was written after the active beat was killed")
        else:
            out.beat_takeovers.append((first - when).total_seconds())
    if receiver.errors:
        out.problems.append(f"the receiver crashed handling requests: {receiver.errors[:3]!r}")
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(
    phase: str, args: argparse.Namespace, tally: Tally, out: Outcome, stack: Stack,
    window: tuple[float, float], settled: float,
) -> bool:  # fmt: skip
    started, ended = window
    elapsed = ended - started
    print(f"\nphase {phase}: {len(args.people)} clients for {elapsed:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; the load generator used "
          f"{tally.client_cpu / elapsed:.0%} of a CPU")  # fmt: skip
    print(f"{'kind':<11}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}   statuses")  # fmt: skip
    groups = {"page": ["page"], "api": ["api_read", "api_write"], "api_read": ["api_read"],
              "api_write": ["api_write"], "alert": ["alert"], "rollback": ["rollback"]}  # fmt: skip
    for name, kinds in groups.items():
        values = [x for kind in kinds for x in tally.latencies.get(kind, [])]
        statuses: Counter[int] = Counter()
        for (kind, status), n in tally.statuses.items():
            if kind in kinds:
                statuses[status] += n
        shown = " ".join(f"{status}:{n}" for status, n in sorted(statuses.items()))
        print(
            f"{name:<11}{len(values):>9}{len(values) / elapsed:>8.1f}"
            f"{percentile(values, 0.5):>9.1f}{percentile(values, 0.95):>9.1f}"
            f"{percentile(values, 0.99):>9.1f}{percentile(values, 1.0):>9.1f}   {shown}"
        )
    if tally.transport:
        print(
            "transport errors: "
            + ", ".join(f"{k} {e}: {n}" for (k, e), n in tally.transport.items())
        )
    for at, (since, until, what) in enumerate(sorted(stack.faults)):
        if since >= started:
            print(f"fault {at + 1}: {since - started:6.1f} s to {until - started:6.1f} s  {what}")
    exits = [(at, what) for at, what in stack.worker_exits if started <= at <= ended]
    for at, what in exits:  # a supervisor restarts it in production; still worth a look
        print(f"at {at - started:6.1f} s: {what}; a new one started, as a supervisor would")
    print(
        f"rollbacks: {tally.presses} presses ({tally.fresh} on a fresh environment), "
        f"{out.rollbacks} requests: {out.succeeded} succeeded, {out.failed} failed "
        f"({out.failed_without_reason} without a reason), {out.stuck} stuck after {settled:.0f} s "
        f"of settling; {out.attempts_over_one} took more than one attempt, {out.replays} calls "
        f"answered as replays; lost {out.lost}, doubled {out.doubled}, "
        f"succeeded without an effect {out.missing_effect}"
    )
    print(
        f"audit: {out.events} events in every chain and {out.checkpoints} signed checkpoints, "
        f"chain {out.chain} (every hash and signature checked)"
    )
    errors_5xx = sum(n for (_, status), n in tally.statuses.items() if status >= 500)
    errors_503 = sum(n for (_, status), n in tally.statuses.items() if status == 503)
    # A 503 is the right answer while PostgreSQL is down (and just after); nothing else is.
    bad = [e for e in tally.server_errors if e[3] != 503 or not stack.in_outage(e[0], e[1])]
    bad_5xx = len(bad) if phase == "faults" else errors_5xx
    for since, until, what, status, body in (bad or tally.server_errors)[:6]:
        print(f"  {status} from {since - started:.1f} to {until - started:.1f} s: {what}: "
              f"{body[:120]!r}")  # fmt: skip
    problems = list(out.problems)
    if bad_5xx:
        problems.append(
            f"{bad_5xx} 5xx answers" + (" outside the outage" if phase == "faults" else "")
        )
    refused = sum(n for (_, status), n in tally.statuses.items() if status < 500)
    refused -= sum(n for (_, status), n in tally.statuses.items() if status in OK_STATUSES)
    if refused:
        problems.append(f"{refused} answers 4xx to valid requests")
    # A request the killed web server held gets no answer (a load balancer cannot replay a
    # POST); any other unanswered request is a failure.
    dropped = sum(1 for since, until in tally.unanswered if stack.in_web_kill(since, until))
    unanswered = len(tally.unanswered) - dropped
    if dropped:
        print(f"{dropped} requests held by the killed web server got no answer (expected)")
    if unanswered:
        problems.append(f"{unanswered} requests got no answer")
    takeovers = ", ".join(f"{t:.1f} s" for t in out.beat_takeovers)
    if out.beat_takeovers:
        print(f"beat: the standby wrote the next checkpoint {takeovers} after the kill")
    for name, n in (("stuck", out.stuck), ("lost", out.lost), ("doubled", out.doubled),
                    ("failed without a reason", out.failed_without_reason),
                    ("succeeded without an effect", out.missing_effect)):  # fmt: skip
        if n:
            problems.append(f"{n} rollback requests {name}")
    if not tally.fresh:
        problems.append("no rollback was pressed")
    if phase == "faults" and not out.attempts_over_one:
        problems.append("the worker was killed, yet no rollback needed a second attempt")
    for problem in problems:
        print(f"FAILED: {problem}")
    page = tally.latencies.get("page", [])
    api = [*tally.latencies.get("api_read", []), *tally.latencies.get("api_write", [])]
    line = (
        f"phase={phase} clients={len(args.people)} seconds={elapsed:.0f} requests={tally.requests} "
        f"rps={tally.requests / elapsed:.1f} p50_page_ms={percentile(page, 0.5):.1f} "
        f"p95_page_ms={percentile(page, 0.95):.1f} p99_page_ms={percentile(page, 0.99):.1f} "
        f"p95_api_ms={percentile(api, 0.95):.1f} errors_5xx={errors_5xx} errors_503={errors_503} "
        f"errors_bad_5xx={bad_5xx} no_answer={unanswered} dropped_at_web_kill={dropped} "
        f"presses={tally.presses} rollbacks={out.rollbacks} succeeded={out.succeeded} "
        f"failed={out.failed} retried={out.attempts_over_one} replays={out.replays} "
        f"lost={out.lost} doubled={out.doubled} stuck={out.stuck} "
        f"faults={sum(1 for f in stack.faults if f[0] >= started)} "
        f"worker_exits={len(exits)} chain={out.chain} signed_checkpoints={out.checkpoints} "
        f"beat_takeover_s={max(out.beat_takeovers, default=0):.1f} "
        f"ok={int(not problems)}"
    )
    print(line, flush=True)
    LINES.append(line)
    return not problems


LINES: list[str] = []  # each phase's key=value line, for bench/RESULTS.md


def record_results(args: argparse.Namespace, passed: bool) -> None:
    """The run's figures in bench/RESULTS.md's soak section (`make bench` keeps it)."""
    from django.conf import settings

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    body = [
        f"Written by `make soak` (`bench/soak.py`), finished {started}, commit {commit or '?'}, "
        f"on {os.cpu_count()} CPUs: {len(args.people)} clients for {args.seconds:g} s a phase, "
        f"two web servers behind a balancer, a general and a rollback worker (queue "
        f"{settings.ROLLBACK_QUEUE!r}), an active beat and its standby. "
        + ("Every check passed." if passed else "**A check failed.**"),
        "",
        "```",
        *LINES,
        "```",
    ]
    write_soak_section(body)


# --- main ------------------------------------------------------------------------------------


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # through the finally below: every process is stopped


async def log_in_all(clients: list[Client]) -> None:
    gate = asyncio.Semaphore(4)  # each login hashes a password: a few at a time

    async def one(client: Client) -> None:
        async with gate:
            await client.log_in()

    await asyncio.gather(*(one(c) for c in clients))


async def soak(
    args: argparse.Namespace, port: int, scene: Scene, stack: Stack
) -> tuple[Tally, tuple[float, float]]:
    tally = Tally()
    presses = Presses(scene.rooms, args.press_rate)
    clients = [
        Client(n, name, role, port, scene, tally, presses, stack)
        for n, (name, role) in enumerate(args.people)
    ]
    try:
        await log_in_all(clients)
        presses.started = time.monotonic()
        window = await run_phase(clients, args.seconds, stack, scene.name == "faults")
    finally:
        await asyncio.gather(*(c.http.aclose() for c in clients))
    return tally, window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300, help="of each phase")
    parser.add_argument(
        "--faults", action=argparse.BooleanOptionalAction, default=True,
        help="after the steady phase, the same again with faults injected",
    )  # fmt: skip
    parser.add_argument(
        "--steady", action=argparse.BooleanOptionalAction, default=True,
        help="the phase without faults (--no-steady: only the fault phase)",
    )  # fmt: skip
    parser.add_argument(
        "--record", action=argparse.BooleanOptionalAction, default=True,
        help="write the figures into bench/RESULTS.md's soak section",
    )  # fmt: skip
    parser.add_argument("--press-rate", type=float, default=0.5,
                        help="rollbacks of fresh environments per second")  # fmt: skip
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminated)
    phases = [name for name, on in (("steady", args.steady), ("faults", args.faults)) if on]
    if not phases:
        parser.error("nothing to run: --no-steady and --no-faults")

    data_dir = project_data_dir() / f"soak-{os.getpid()}"
    receiver = None
    stack = Stack(data_dir, {})
    results: list[bool] = []
    try:
        print(f"Starting a fresh embedded PostgreSQL and Redis in {data_dir} …", flush=True)
        stack.postgres = EmbeddedPostgres.start(data_dir / "postgres")
        stack.broker = EmbeddedRedis.start(data_dir / "redis", persist=False)
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            DATABASE_URL=stack.postgres.url(),
            CELERY_BROKER_URL=stack.broker.url(),
            ROLLBACK_QUEUE=ROLLBACK_QUEUE,
            AUDIT_CHECKPOINT_SECONDS=str(CHECKPOINT_SECONDS),
            # The receiver keeps one state for every environment, so a reconcile would take
            # each rollback for drift everywhere else: drift has its own bench (drift.py).
            RECONCILE_SECONDS="86400",
            # Checkpoints are signed with it: the check verifies every signature.
            EVIDENCE_SIGNING_KEY_FILE=str(evidence_signing_key_file(data_dir)),
            SECRET_KEY="soak-only-secret-key-not-for-production-use-0123456789",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback: no secure-only cookies
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
            EMAIL_URL=f"filemail:///{data_dir / 'mail'}",  # the rollback notices, into files
        )
        os.environ.update(env)
        stack.env = env

        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from governance.audit.chain import seal_all
        from tests.fixtures.webhook_server import WebhookReceiver

        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        receiver = stack.receiver = WebhookReceiver().start()
        registrar, staff, args.people = build_people(args.clients)
        rooms = math.ceil(args.press_rate * args.seconds) + 10
        scenes = {
            name: build_scene(name, receiver, registrar, staff, args.people, rooms)
            for name in phases
        }
        seal_all()
        connections.close_all()
        print(
            f"Data written in {time.perf_counter() - started:.0f} s: {len(args.people)} users, "
            f"{SYSTEMS_PER_PHASE} systems and {rooms} environments with an open incident per "
            f"phase, on the receiver at {receiver.base_url}",
            flush=True,
        )
        stack.start_workers()
        stack.start_beats()
        stack.start_front()
        port = stack.port
        webs = ", ".join(f":{p}" for p in stack.webs)
        print(
            f"a balancer on http://{HOST}:{port}/ in front of {WEB_SERVERS} gunicorns ({webs}; "
            f"{WEB_WORKERS} workers x {WEB_THREADS} threads each); a general Celery worker and "
            f"a rollback worker on {settings.ROLLBACK_QUEUE!r} (concurrency 2 each); {BEATS} "
            "Celery beats, one holding the lock",
            flush=True,
        )
        for name in phases:
            scene = scenes[name]
            receiver.set_live(NEW)
            print(
                f"\n== phase {name}: {len(args.people)} clients for {args.seconds:g} s", flush=True
            )
            tally, window = asyncio.run(soak(args, port, scene, stack))
            settle_timeout = settings.ROLLBACK_LEASE_SECONDS + 60
            settled = settle(scene, settle_timeout)
            outcome = check(scene, tally, receiver, stack)
            results.append(report(name, args, tally, outcome, stack, window, settled))
        if args.record:
            record_results(args, all(results))
    except BaseException:
        for log in stack.logs:
            if log.exists():
                print(f"--- the end of {log.name}:\n{_tail(log)}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        if receiver is not None:
            receiver.stop()
        if all(results) and len(results) == len(phases):
            with contextlib.suppress(OSError):
                shutil.rmtree(data_dir)
        else:
            print(f"The data and the logs are kept in {data_dir}", file=sys.stderr)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

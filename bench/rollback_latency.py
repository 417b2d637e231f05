"""From pressing ROLL BACK NOW to the backend receiving the rollback call, against a bare task.

    .venv/bin/python bench/rollback_latency.py [--rollbacks 200] [--warmup 10]

Brings up its own embedded PostgreSQL and Redis broker in a fresh data folder, migrates, and
builds through the services one high-risk system with one environment per rollback (a
rollback is active per environment at most), each pointed at ONE real webhook receiver
(tests/fixtures/webhook_server.py, in this process): release 2.0.0, then 2.1.0, taken live
in every environment (the rollout steps applied through the webhook backend), and one open
incident per environment, declared by the on-call lead.

Then a real Celery worker (prefork, concurrency 2, the production settings: late
acknowledgement, prefetch 1) and gunicorn (2 sync workers, DEBUG off) serve the app on
loopback. The client logs in through the login form as the rollback owner and measures,
one at a time and interleaved pair by pair in random order so that machine noise falls on
both alike:

  rollback  the war room's button: POST /incidents/<pk>/rollback/ with the CSRF token and a
            reason, timed from sending the request to the receiver receiving the signed
            rollback call of that environment (its `received_at`). Before each press the
            receiver reports 2.1.0 live, so the forensic status read sees the release being
            rolled back and the verification sees 2.0.0 only once the call applied it. The
            next measurement starts when the request is recorded as succeeded.
  baseline  a bare Celery task (bench/latency_tasks.py), enqueued from this process on the
            same broker and queue, run by the same worker, making one signed HTTP POST to
            the same receiver the way the webhook backend does, timed from the enqueue to
            the receiver receiving it.

After each measurement the client waits until the worker has finished everything it set off
(a rollback's email notices; they go to files under the data folder, as a mail relay would
take them), so nothing runs into the next one; the CPU the web, worker and PostgreSQL
processes used is summed per measurement.

Where a rollback's time goes follows, from timestamps: the request's `requested_at` (the
web process, in the press's transaction), the answer to the press, the worker receiving
the task (its INFO log), a pool process beginning it (a task_prerun line that
bench/latency_tasks.py writes), `started_at` (the claim, after the row lock), the forensic
status read arriving at the receiver, the forensic record's `captured_at`, and the rollback
call. Then how many PostgreSQL sessions were opened during the measurement (the web keeps
its connections; a worker that reconnects for every task shows here). Every rollback must
succeed with exactly one rollback call at the receiver, else the script fails.

`--settings` runs every process on another settings module, to compare a change.
The last line is key=value pairs; ratio = rollback p50 / baseline p50.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import (  # noqa: E402  (the same server and raw HTTP client)
    HOST,
    CpuMeter,
    _cookies_from,
    _free_port,
    _postmaster_pid,
    _request,
    exchange,
    start_gunicorn,
    stop_gunicorn,
)
from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

if TYPE_CHECKING:
    from tests.fixtures.webhook_server import Call, WebhookReceiver

PASSWORD = "bench only: correct horse battery staple"
USERNAME = "rob"  # the rollback owner who presses the button
OLD, NEW = "2.0.0", "2.1.0"  # every rollback puts OLD back in place of NEW
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO = 30, 100, 5
WAIT_SECONDS = 30  # for any one call or outcome; a rollback verifies within a second
SETTLE_SECONDS = 0.02  # after the worker went idle, before the next measurement
IDLE_SECONDS = 3  # at most, for the worker to finish what a measurement set off


# --- data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    incident_pk: int
    environment_pk: int
    slug: str


def build(receiver: WebhookReceiver, count: int) -> list[Target]:
    """`count` environments on the receiver, OLD then NEW live in each, an incident in each."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.audit.chain import seal_all
    from governance.roles import Role
    from incidents import services as incidents
    from releases import services
    from releases.models import StepStatus
    from tests.fixtures.releases import CARD, go_live, pass_every_gate, stack

    users = get_user_model().objects
    registrar = users.create_user("olivia", "olivia@example.com", None)
    registrar.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    system = governance.create_system(
        actor=registrar, name="Card fraud screening", slug="fraud",
        intended_purpose="Scores card payments for fraud before authorisation.",
        risk_category="high",
    )  # fmt: skip

    def with_role(username: str, role: Role, password: str | None = None):  # type: ignore[no-untyped-def]
        user = users.create_user(username, f"{username}@example.com", password)
        governance.grant_role(actor=registrar, system=system, role=role, user=user)
        return user

    model_owner = with_role("mona", Role.MODEL_OWNER)
    managers = [with_role(name, Role.RELEASE_MANAGER) for name in ("ravi", "rita")]
    rollback_owner = with_role(USERNAME, Role.ROLLBACK_OWNER, PASSWORD)
    lead = with_role("olga", Role.ONCALL_LEAD)

    environments = [
        receiver.configure(
            services.create_environment(actor=registrar, system=system, name=f"Region {n:03d}")
        )
        for n in range(count)
    ]
    releases = []
    for version in (OLD, NEW):
        release = services.create_release(
            actor=model_owner, system=system, version=version, title=f"Fraud model {version}",
            card=CARD, components=stack(version), change_categories=["major_dataset_refresh"],
        )  # fmt: skip
        pass_every_gate(release, model_owner)
        services.save_rollback_plan(
            actor=model_owner, release=release, environment=environments[0],
            owners=[rollback_owner], mode="manual", cooldown_minutes=30, triggers=[],
        )  # fmt: skip
        services.submit_release(actor=model_owner, release=release)
        for approver in managers:
            services.record_approval(
                actor=approver, release=release, decision="approve", comment="ok"
            )
        release.refresh_from_db()
        releases.append(release)
    for release in releases:  # OLD everywhere first: it stays live somewhere while NEW comes
        for environment in environments:
            step = go_live(release, managers[0], environment)
            if step.status != StepStatus.APPLIED:
                raise RuntimeError(f"{release.version} not live in {environment}: {step.error}")
    targets = []
    for environment in environments:
        incident = incidents.declare_incident(
            actor=lead, system=system, environment=environment, severity="sev2",
            title=f"Review rate tripled in {environment.name}", category="drift",
        )  # fmt: skip
        targets.append(Target(incident.pk, environment.pk, environment.slug))
    seal_all()  # as the worker's sealer would have by now
    return targets


# --- the worker ------------------------------------------------------------------------------


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    """The production worker (prefork, 2 processes) plus the baseline task, in its own group."""
    args = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
        "--concurrency=2", "--without-gossip", "--without-mingle", "-Q", queue,
        "-I", "bench.latency_tasks", "--hostname=bench-rollback@%h",
    ]  # fmt: skip
    # Its INFO lines in the text format (Django's LOGGING, which the worker keeps) say when
    # it is ready and when each task arrived and ended.
    env = dict(env, LOG_LEVEL="INFO", LOG_FORMAT="text")
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_worker(process)
            raise RuntimeError(f"the Celery worker did not start:\n{_tail(log)}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the parent and its pool
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _tail(log: Path, chars: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace")[-chars:]
    return "(no log)"


_TASK_LINE = re.compile(  # "2026-11-24 00:00:00,123 INFO celery.worker.strategy [… …] Task …"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ \S+ \[[^\]]*\] "
    r"Task ([\w.]+)\[([0-9a-f-]+)\] (received|succeeded|retry|raised|failed)"
)


_STARTED_LINE = re.compile(r"bench: task ([\w.]+)\[[0-9a-f-]+\] started at (\d+\.\d+)")


class WorkerLog:
    """What the worker ran, from its INFO log: tasks by name, and whether any is unfinished."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.pending: set[str] = set()
        self.received: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self.last_received: dict[str, float] = {}  # task name: when the worker last got one
        self.last_started: dict[str, float] = {}  # task name: when a pool process last began one

    def read(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
        self.offset += complete
        lines = chunk[:complete].decode(errors="replace")
        for stamp, name, task_id, what in _TASK_LINE.findall(lines):
            if what == "received":
                self.pending.add(task_id)
                self.received[name] = self.received.get(name, 0) + 1
                # The worker's log clock: local time, to the millisecond.
                at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
                self.last_received[name] = at
            else:
                self.pending.discard(task_id)
                if what != "succeeded":
                    self.outcomes[f"{name} {what}"] = self.outcomes.get(f"{name} {what}", 0) + 1
        for name, at in _STARTED_LINE.findall(lines):  # bench/latency_tasks.py writes these
            self.last_started[name] = float(at)

    def wait_idle(self, timeout: float) -> bool:
        """Until every task the worker received has finished (or retried): the notices a
        rollback sends, its acknowledgement. False if some task is still running."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if not self.pending:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)


# --- the client ------------------------------------------------------------------------------


def log_in(port: int) -> str:
    """Through the login form, as a browser: the CSRF cookie and token, then the session."""
    jar: dict[str, str] = {}
    status, head, body = exchange(port, _request("/login/"))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if status != 200 or token is None:
        raise RuntimeError(f"GET /login/ answered {status} without a CSRF token")
    _cookies_from(head, jar)
    form = urlencode(
        {"csrfmiddlewaretoken": token.group(1).decode(), "username": USERNAME, "password": PASSWORD}
    ).encode()
    cookies = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, head, body = exchange(port, _request("/login/", "POST", cookies, form))
    _cookies_from(head, jar)
    if status != 302 or "sessionid" not in jar:
        raise RuntimeError(f"login failed: {status} {body[:300]!r}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def war_room_token(port: int, cookies: str, target: Target) -> str:
    """The CSRF token of the button's form, from the war room as the rollback owner sees it."""
    status, _, body = exchange(port, _request(f"/incidents/{target.incident_pk}/", cookies=cookies))
    if b"ROLL BACK NOW" not in body:
        raise RuntimeError(f"the war room ({status}) offers no ROLL BACK NOW: {body[:300]!r}")
    form = re.search(rb'rollback/" class="rollback-confirm">\s*<input[^>]*value="([^"]+)"', body)
    if form is None:
        raise RuntimeError("the ROLL BACK NOW form carries no CSRF token")
    return form.group(1).decode()


# --- the measurement ---------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    points: dict[str, list[float]] = field(default_factory=dict)  # seconds after the start
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group, summed

    def add(self, marks: dict[str, float], cpu: dict[str, float]) -> None:
        for point, seconds in marks.items():
            self.points.setdefault(point, []).append(seconds)
        for group, seconds in cpu.items():
            self.cpu[group] = self.cpu.get(group, 0.0) + seconds

    def cpu_ms(self, group: str) -> float:
        return self.cpu.get(group, 0.0) / max(len(self), 1) * 1000

    def ms(self, point: str, q: float) -> float:
        ordered = sorted(self.points[point])
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def __len__(self) -> int:
        return len(self.points.get("received", []))


class Bench:
    def __init__(
        self,
        port: int,
        cookies: str,
        token: str,
        receiver: WebhookReceiver,
        queue: str,
        meters: dict[str, CpuMeter],
        worker_log: WorkerLog,
    ) -> None:
        self.port, self.cookies, self.token = port, cookies, token
        self.receiver, self.queue, self.meters = receiver, queue, meters
        self.worker_log = worker_log
        self.deadline = float("inf")
        self.busy_after = 0  # measurements after which the worker was still busy

    def run(self, operation: Callable[[], dict[str, float]], series: Series | None) -> None:
        """One measurement; then until the worker is idle again (whatever the measurement
        set off, such as a rollback's notices, must not run into the next one). The CPU
        each process group used is summed over both."""
        before = {group: meter.read() for group, meter in self.meters.items()}
        marks = operation()
        if not self.worker_log.wait_idle(min(IDLE_SECONDS, self._left())):
            self.busy_after += 1
        time.sleep(SETTLE_SECONDS)
        if series is not None:
            series.add(
                marks,
                {
                    group: CpuMeter.used(before[group], meter.read())
                    for group, meter in self.meters.items()
                },
            )

    def _call(self, mark: int, match: Callable[[Call], bool], what: str) -> Call:
        found: list[Call] = []

        def seen(receiver: WebhookReceiver) -> bool:
            found.extend(call for call in receiver.calls[mark:] if match(call))
            return bool(found)

        try:
            self.receiver.wait_for(seen, timeout=min(WAIT_SECONDS, self._left()))
        except TimeoutError as error:
            raise RuntimeError(f"the receiver never got {what}") from error
        return found[0]

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("out of time: the run took longer than --limit")
        return left

    def rollback(self, target: Target) -> dict[str, float]:
        """Press the button; wait for the call, then for the request to succeed."""
        from releases.models import ForensicRecord, RollbackRequest, RollbackStatus

        self.receiver.set_live(NEW)
        mark = len(self.receiver.calls)
        form = urlencode(
            {"csrfmiddlewaretoken": self.token, "reason": f"INC-{target.incident_pk}: bench"}
        ).encode()
        press = _request(f"/incidents/{target.incident_pk}/rollback/", "POST", self.cookies, form)
        sent = time.time()
        status, head, body = exchange(self.port, press)
        answered = time.time()
        if status != 302:
            raise RuntimeError(f"the press answered {status}: {head[:200]!r} {body[:500]!r}")
        call = self._call(
            mark,
            lambda c: c.action == "rollback" and c.json.get("environment") == target.slug,
            f"the rollback call of {target.slug}",
        )
        request = None
        while request is None or request.status not in (
            RollbackStatus.SUCCEEDED,
            RollbackStatus.FAILED,
        ):
            self._left()
            if time.time() - sent > WAIT_SECONDS:
                state = request.status if request else "unrecorded"
                raise RuntimeError(f"the rollback of {target.slug} is still {state}")
            time.sleep(0.01)
            request = RollbackRequest.objects.filter(environment_id=target.environment_pk).get()
        if request.status != RollbackStatus.SUCCEEDED:
            raise RuntimeError(f"the rollback of {target.slug} failed: {request.error}")
        self.worker_log.read()
        task = "releases.tasks.execute_rollback"
        picked_up = self.worker_log.last_received.get(task, 0.0)
        begun = self.worker_log.last_started.get(task, 0.0)
        reads = [c for c in self.receiver.calls[mark:] if c.action == "status"]
        forensics = ForensicRecord.objects.get(request=request)
        assert request.started_at is not None
        return {
            "requested": request.requested_at.timestamp() - sent,
            "answered": answered - sent,
            "picked_up": picked_up - sent,
            "begun": begun - sent,
            "claimed": request.started_at.timestamp() - sent,
            "status_read": reads[0].received_at - sent,
            "forensics": forensics.captured_at.timestamp() - sent,
            "received": call.received_at - sent,
        }

    def baseline(self) -> dict[str, float]:
        """Enqueue the bare task; wait for its call and its answer."""
        from bench.latency_tasks import BENCH_HEADER, ping_receiver

        mark, token = len(self.receiver.calls), uuid.uuid4().hex
        url = self.receiver.base_url + "/baseline"
        sent = time.time()
        ping_receiver.apply_async((url, self.receiver.secret, token), queue=self.queue)
        enqueued = time.time()
        call = self._call(
            mark, lambda c: c.headers.get(BENCH_HEADER.lower()) == token, "the baseline call"
        )
        self.receiver.wait_for(lambda _: call.answered_at is not None, timeout=WAIT_SECONDS)
        return {"enqueued": enqueued - sent, "received": call.received_at - sent}


def measure(bench: Bench, targets: list[Target], warmup: int) -> tuple[Series, Series]:
    rollbacks, baselines = Series("rollback"), Series("baseline")
    for target in targets[:warmup]:  # both web workers, both pool processes, every connection
        bench.run(lambda: bench.rollback(target), None)  # noqa: B023  (called right here)
        bench.run(bench.baseline, None)
    coin = random.Random(20260101)
    measured = targets[warmup:]
    for n, target in enumerate(measured, 1):
        pair: list[tuple[Callable[[], dict[str, float]], Series]] = [
            (lambda: bench.rollback(target), rollbacks),  # noqa: B023  (called right here)
            (bench.baseline, baselines),
        ]
        if coin.random() < 0.5:
            pair.reverse()
        for operation, series in pair:
            bench.run(operation, series)
        if n % 50 == 0:
            print(
                f"  {n:>4} of {len(measured)}: rollback p50 {rollbacks.ms('received', 0.5):6.1f} "
                f"ms, baseline p50 {baselines.ms('received', 0.5):6.1f} ms",
                flush=True,
            )
    return rollbacks, baselines


def check_exactly_once(receiver: WebhookReceiver, targets: list[Target]) -> int:
    """Every environment: one rollback call, applied once, its request succeeded. Returns how
    many requests took more than one attempt (a retry is allowed, a second change is not)."""
    from releases.models import RollbackRequest, RollbackStatus

    calls: dict[str, int] = {}
    for call in receiver.calls:
        if call.action == "rollback":
            environment = call.json.get("environment")
            calls[environment] = calls.get(environment, 0) + 1
    applied = [a for a in receiver.applied.values() if a.action == "rollback"]
    requests = RollbackRequest.objects.filter(
        environment_id__in=[t.environment_pk for t in targets]
    )
    succeeded = requests.filter(status=RollbackStatus.SUCCEEDED).count()
    if (
        len(applied) != len(targets)
        or any(calls.get(t.slug) != 1 for t in targets)
        or requests.count() != len(targets)
        or succeeded != len(targets)
    ):
        raise RuntimeError(
            f"not exactly once: {len(targets)} rollbacks, {len(applied)} applied, "
            f"{sum(calls.values())} calls, {requests.count()} requests, {succeeded} succeeded"
        )
    return requests.filter(attempts__gt=1).count()


# --- report ------------------------------------------------------------------------------------


def sessions(url: str) -> int:
    """PostgreSQL sessions opened so far (its statistics lag by up to a second)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def report(
    rollbacks: Series, baselines: Series, args: argparse.Namespace, load: float, opened: int
) -> bool:
    print()
    print(
        f"{len(rollbacks)} rollbacks and {len(baselines)} baseline tasks, one at a time, "
        f"interleaved (after {args.warmup} of each to warm up); load average {load:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after (on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'ms until the receiver got the call':<36}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
        f"   CPU ms each: {'web':>6}{'worker':>8}{'db':>7}"
    )
    for series, what in (
        (rollbacks, "rollback (from the press)"),
        (baselines, "baseline (from enqueue)"),
    ):
        print(
            f"{what:<36}{series.ms('received', 0.5):>8.1f}{series.ms('received', 0.9):>8.1f}"
            f"{series.ms('received', 0.99):>8.1f}{series.ms('received', 1.0):>8.1f}"
            f"{'':>16}{series.cpu_ms('web'):>6.1f}{series.cpu_ms('worker'):>8.1f}"
            f"{series.cpu_ms('postgres'):>7.1f}"
        )
    print("\nwhere a rollback's time goes, ms after the press was sent:")
    steps = [
        ("requested", "request recorded (web, in the press's transaction)"),
        ("answered", "press answered (302; committed and enqueued)"),
        ("picked_up", "worker got the task (its log, to the ms)"),
        ("begun", "a pool process begins the task (task_prerun)"),
        ("claimed", "claimed by the worker (started_at)"),
        ("status_read", "forensic status read reaches the receiver"),
        ("forensics", "forensic record written (captured_at)"),
        ("received", "rollback call reaches the receiver"),
    ]
    print(f"  {'':<52}{'p50':>8}{'p99':>8}")
    for point, label in steps:
        print(f"  {label:<52}{rollbacks.ms(point, 0.5):>8.1f}{rollbacks.ms(point, 0.99):>8.1f}")
    label = "baseline: enqueued (apply_async returned)"
    print(
        f"  {label:<52}{baselines.ms('enqueued', 0.5):>8.1f}{baselines.ms('enqueued', 0.99):>8.1f}"
    )
    measured = 2 * (args.warmup + len(rollbacks))
    print(
        f"\nPostgreSQL sessions opened during the {measured} measurements (with the warm-up): "
        f"{opened}, {opened / (args.warmup + len(rollbacks)):.1f} per rollback"
    )
    p50, p99 = rollbacks.ms("received", 0.5), rollbacks.ms("received", 0.99)
    base50, base99 = baselines.ms("received", 0.5), baselines.ms("received", 0.99)
    ratio = p50 / base50
    meets = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and ratio <= TARGET_RATIO
    print()
    print(
        f"p50_ms={p50:.1f} p99_ms={p99:.1f} baseline_p50_ms={base50:.1f} "
        f"baseline_p99_ms={base99:.1f} ratio={ratio:.2f} rollbacks={len(rollbacks)} "
        f"target_p50_ms={TARGET_P50_MS} target_p99_ms={TARGET_P99_MS} "
        f"target_ratio={TARGET_RATIO} meets_target={int(meets)}"
    )
    return meets


# --- main ------------------------------------------------------------------------------------


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # through the finally below: every process is stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rollbacks", type=int, default=200, help="measured, one environment each")
    parser.add_argument("--warmup", type=int, default=10, help="rollbacks and tasks before")
    parser.add_argument("--limit", type=float, default=300, help="seconds for the measurement")
    parser.add_argument(
        "--settings", default="config.settings", help="of every process (to compare a change)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminated)

    data_dir = project_data_dir() / f"bench-rollback-{os.getpid()}"
    postgres = broker = receiver = worker = server = None
    logs = {"worker": data_dir / "worker.log", "gunicorn": data_dir / "gunicorn.log"}
    try:
        print(f"Starting a fresh embedded PostgreSQL and Redis in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir / "postgres")
        broker = EmbeddedRedis.start(data_dir / "redis", persist=False)
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE=args.settings,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            DATABASE_URL=postgres.url(),
            CELERY_BROKER_URL=broker.url(),
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
            # The rollback's notices are emailed: into files here, as a relay would take them.
            EMAIL_URL=f"filemail:///{data_dir / 'mail'}",
        )
        os.environ.update(env)

        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from tests.fixtures.webhook_server import WebhookReceiver

        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        receiver = WebhookReceiver().start()
        targets = build(receiver, args.warmup + args.rollbacks)
        connections.close_all()
        print(
            f"Data written in {time.perf_counter() - started:.0f} s: {len(targets)} environments "
            f"on the receiver at {receiver.base_url}, {OLD} then {NEW} live in each, "
            f"one incident each",
            flush=True,
        )

        worker = start_worker(env, settings.ROLLBACK_QUEUE, logs["worker"])
        port = _free_port()
        server = start_gunicorn(env, port, logs["gunicorn"])
        cookies = log_in(port)
        token = war_room_token(port, cookies, targets[0])
        print(
            f"gunicorn on http://{HOST}:{port}/ (2 sync workers), a Celery worker "
            f"(concurrency 2) on queue {settings.ROLLBACK_QUEUE!r}; logged in as {USERNAME}",
            flush=True,
        )
        load = os.getloadavg()[0]
        meters = {
            "web": CpuMeter([server.pid]),
            "worker": CpuMeter([worker.pid]),
            "postgres": CpuMeter([_postmaster_pid(postgres.data_dir)]),
        }
        worker_log = WorkerLog(logs["worker"])
        bench = Bench(port, cookies, token, receiver, settings.ROLLBACK_QUEUE, meters, worker_log)
        bench.deadline = time.monotonic() + args.limit
        opened = sessions(postgres.url())
        rollbacks, baselines = measure(bench, targets, args.warmup)
        time.sleep(1.5)  # PostgreSQL flushes its session counts within a second
        opened = sessions(postgres.url()) - opened - 2  # less this script's two look-ups
        retried = check_exactly_once(receiver, targets)
        worker_log.wait_idle(IDLE_SECONDS)
        ran = ", ".join(f"{n} {name}" for name, n in sorted(worker_log.received.items()))
        print(f"The worker ran: {ran}", flush=True)
        troubles = [f"{n} {what}" for what, n in sorted(worker_log.outcomes.items())]
        if retried or bench.busy_after or troubles:
            print(
                f"note: {retried} rollbacks took more than one attempt; the worker was still "
                f"busy {IDLE_SECONDS} s after {bench.busy_after} measurements; "
                f"{', '.join(troubles) or 'no task retried or failed'}",
                flush=True,
            )
        if receiver.errors:
            raise RuntimeError(f"the receiver crashed handling requests: {receiver.errors!r}")
    except BaseException:
        for name, log in logs.items():
            if log.exists():
                print(f"--- the end of the {name} log:\n{_tail(log)}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop_gunicorn(server)
        if worker is not None:
            stop_worker(worker)
        if receiver is not None:
            receiver.stop()
        if broker is not None:
            broker.stop()
        if postgres is not None:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)

    report(rollbacks, baselines, args, load, opened)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Requests per second of the release pages under gunicorn, against an empty Django view.

    .venv/bin/python bench/pages.py [--connections 4] [--seconds 5] [--rounds 3] [--profile]

Brings up its own embedded PostgreSQL in a fresh data folder, migrates, collects the static
files, and writes a realistic system: one high-risk AI system with Production and Staging,
people holding each role, about 500 releases (mostly in review, some approved or rejected,
written in bulk), one release taken live through the services (register, gate checks,
rollback plan, submit, two approvals, general release, the backend step applied), and the
measured release: 50 gate checks recorded through the services, submitted, with 20
approvals by 20 release managers.

Then it serves the app with gunicorn as production does (DEBUG off, 2 sync workers, no
access log, whitenoise with the manifest) on a free loopback port, logs in through the login
form as a release manager of the system, and measures with a fixed number of concurrent
client connections, page by page, interleaved round by round so that machine noise falls
on all of them alike:

  release   /releases/<pk>/ of the release with 50 gate checks and 20 approvals, as users
            get it: from the page cache while nothing of its system changes
  render    the same page rendered on every request (sent without the CSRF cookie, which
            the page cache requires), to show what a change costs the first viewer after it
  list      /releases/ (the first 50 of about 500 rows)
  queue     /approvals/ (every release in review the user may decide on)
  war_room  /incidents/<pk>/ of a SEV1 with 1,000 timeline entries, as responders get it
            between changes (the page cache; its live poll answers 204 meanwhile)
  empty     bench/empty/: the same middleware, session and authentication, no work

Every response is checked: status 200 and the page's own content, else the script fails.
The last line is key=value pairs; ratio = page requests/s / empty-view requests/s.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.embedded import EmbeddedPostgres, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

SETTINGS = "bench.pages_settings"
HOST = "127.0.0.1"
TARGET_RATIO = 0.35  # the release page against the empty view
PASSWORD = "bench only: correct horse battery staple"
USERNAME = "ravi"  # the release manager who logs in

CARD = {
    "what_changed": "Gradient-boosted model retrained on Q3 data; new velocity features.",
    "why": "Fraud patterns shifted to card testing in small amounts.",
    "data_used": "Payments 2026-07..2026-09, 41M rows, labels from chargebacks.",
    "channels_tested": "Web checkout, mobile app.",
    "expected_benefits": "Recall +3 points at the same review rate.",
    "known_risks": "Higher false positives for first-time buyers.",
    "rollback_trigger": "Review rate above 2.5 % for 15 minutes.",
}


# --- data --------------------------------------------------------------------------------


@dataclass
class Scene:
    measured_pk: int
    measured_version: str
    newest_version: str  # first row of the release list
    queue_rows: int
    releases: int
    incident_pk: int
    timeline_entries: int


def _stack(version: str) -> list[dict[str, str]]:
    from releases.models import ComponentKind

    return [
        {
            "kind": kind.value,
            "version": f"{kind.value}-{version}",
            "uri": f"s3://models/fraud/{kind.value}/{version}",
            "digest": hashlib.sha256(f"{kind.value}{version}".encode()).hexdigest(),
        }
        for kind in ComponentKind
    ]


def _register(actor, system, version: str):  # type: ignore[no-untyped-def]
    from releases import services

    return services.create_release(
        actor=actor, system=system, version=version, title=f"Fraud model {version}", card=CARD,
        components=_stack(version), change_categories=["major_dataset_refresh"],
    )  # fmt: skip


def _gate_check(actor, release, n: int) -> None:  # type: ignore[no-untyped-def]
    """The n-th check of a release: numeric where the criterion is measured, else attested."""
    from releases import services
    from releases.models import GateCriterion

    criteria = list(GateCriterion.values)
    criterion = criteria[n % len(criteria)]
    evidence = f"https://wiki.example.com/fraud/{release.version}/{criterion}/{n}"
    numeric = {
        GateCriterion.BENCHMARK: ("gte", Decimal("0.91") + Decimal(n) / 10000, Decimal("0.9"), ""),
        GateCriterion.LATENCY: ("lte", Decimal(38 + n % 7), Decimal(50), "ms"),
        GateCriterion.CALIBRATION: ("lte", Decimal("0.031"), Decimal("0.05"), ""),
    }
    if criterion in numeric:
        comparison, measured, target, unit = numeric[criterion]
        services.record_gate_check(
            actor=actor, release=release, criterion=criterion, comparison=comparison,
            measured_value=measured, target=target, unit=unit, evidence_uri=evidence,
            note=f"Run {n} of the nightly evaluation.",
        )  # fmt: skip
    else:
        services.record_gate_check(
            actor=actor, release=release, criterion=criterion, comparison="attested",
            attested_pass=True, evidence_uri=evidence, note=f"Reviewed ({n}).",
        )  # fmt: skip


def _plan(actor, release, environment, owner) -> None:  # type: ignore[no-untyped-def]
    from releases import services

    services.save_rollback_plan(
        actor=actor, release=release, environment=environment, owners=[owner],
        mode="auto_propose", cooldown_minutes=30,
        triggers=[
            {"metric": "review_rate", "comparison": "gt", "threshold": "2.5", "window_minutes": 15},
            {"metric": "p95_latency_ms", "comparison": "gt", "threshold": "300",
             "window_minutes": 5},
        ],
    )  # fmt: skip


def _go_live(actor, release, environment):  # type: ignore[no-untyped-def]
    """Promote to general release, then apply the step as the Celery worker would."""
    from releases import services
    from releases.models import StepStatus
    from releases.services import rollouts

    # No broker here: the on-commit enqueue is skipped, and the step applied right after.
    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=actor, release=release, environment=environment, stage="general_release",
            traffic_percent=100,
        )  # fmt: skip
    step = services.apply_rollout_step(step_id=step.pk)
    if step.status != StepStatus.APPLIED:
        raise RuntimeError(f"the rollout step was not applied: {step.status} {step.error}")


def _bulk_releases(system, author, count: int, approvers: list, rejecter) -> list:  # type: ignore[no-untyped-def]
    """Volume: releases written in bulk (stack first, then submitted, as the trigger demands)."""
    from django.utils import timezone

    from releases.models import (
        Approval,
        ChangeCategory,
        Decision,
        GateCheck,
        GateCriterion,
        Release,
        ReleaseComponent,
        ReleaseStatus,
    )

    categories = list(ChangeCategory.values)
    versions = [f"2.{i // 50}.{i % 50}" for i in range(count)]
    releases = Release.objects.bulk_create(
        Release(
            system=system,
            version=version,
            title=f"Fraud model {version}",
            author=author,
            change_categories=[categories[i % len(categories)]],
            **CARD,
        )
        for i, version in enumerate(versions)
    )
    ReleaseComponent.objects.bulk_create(
        ReleaseComponent(release=release, **component)
        for release in releases
        for component in _stack(release.version)
    )
    status_of = {}
    for i, release in enumerate(releases):
        if i % 12 == 5:
            status_of[release.pk] = ReleaseStatus.APPROVED
        elif i % 50 == 7:
            status_of[release.pk] = ReleaseStatus.REJECTED
        else:
            status_of[release.pk] = ReleaseStatus.IN_REVIEW
    digest = hashlib.sha256(b"bulk release content").hexdigest()
    now = timezone.now()
    for status in set(status_of.values()):
        decided = None if status == ReleaseStatus.IN_REVIEW else now
        Release.objects.filter(pk__in=[pk for pk, s in status_of.items() if s == status]).update(
            status=status, submitted_at=now, decided_at=decided, content_digest=digest
        )
    criteria = list(GateCriterion.values)
    GateCheck.objects.bulk_create(
        GateCheck(
            release=release, criterion=criterion, comparison="attested",
            passed=(i + n) % 40 != 0, evidence_uri=f"https://wiki.example.com/{release.pk}/{n}",
            recorded_by=author,
        )
        for i, release in enumerate(releases)
        for n, criterion in enumerate(criteria)
    )  # fmt: skip
    approvals = []
    for i, release in enumerate(releases):
        status = status_of[release.pk]
        if status == ReleaseStatus.APPROVED:
            decided = [(a, Decision.APPROVE) for a in approvers[:2]]
        elif status == ReleaseStatus.REJECTED:
            decided = [(rejecter, Decision.REJECT)]
        else:
            decided = [(approvers[0], Decision.APPROVE)] if i % 3 == 0 else []
        approvals += [
            Approval(
                release=release,
                approver=approver,
                decision=decision,
                comment="Looked at the segment report; fine.",
                release_digest=digest,
            )
            for approver, decision in decided
        ]
    Approval.objects.bulk_create(approvals)
    return releases


def _incident(lead, system, environment, entries: int) -> int:  # type: ignore[no-untyped-def]
    """A SEV1 in Production run through the services, then a long night of timeline entries
    (written in bulk: the timeline is append-only, inserts are all it takes)."""
    from datetime import timedelta

    from django.utils import timezone

    from incidents import services as incidents
    from incidents.models import EntryKind, TimelineEntry

    incident = incidents.declare_incident(
        actor=lead, system=system, environment=environment, severity="sev1",
        title="Review rate tripled after the rollout", category="drift", source="alert",
    )  # fmt: skip
    incidents.request_containment(
        actor=lead, incident=incident, kind="route_fallback", target="fraud-model-0.9"
    )
    kinds = [EntryKind.NOTE, EntryKind.ALERT, EntryKind.STATUS_UPDATE, EntryKind.NOTE]
    start = timezone.now() - timedelta(hours=6)
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident=incident, kind=kinds[n % len(kinds)], actor=lead, actor_name=lead.username,
            occurred_at=start + timedelta(seconds=20 * n),
            body=f"Observation {n}: review rate {2 + n % 7}.{n % 10} % on the EU card segment.",
        )
        for n in range(entries - incident.timeline.count())
    )  # fmt: skip
    for entry in incident.timeline.order_by("id")[:3]:
        incidents.pin_entry(actor=lead, entry=entry)
    return incident.pk


def build_scene(release_count: int, timeline_entries: int) -> Scene:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.audit.chain import seal_all
    from governance.roles import Role
    from releases import services
    from releases.models import Approval, Decision, ReleaseStatus
    from releases.queries import approval_queue

    users = get_user_model().objects

    def person(username: str, first: str, last: str):  # type: ignore[no-untyped-def]
        return users.create_user(
            username, f"{username}@example.com", None, first_name=first, last_name=last
        )

    registrar = person("olivia", "Olivia", "Owner")
    registrar.user_permissions.add(
        Permission.objects.get(codename="add_aisystem", content_type__app_label="governance")
    )
    system = governance.create_system(
        actor=registrar, name="Card fraud screening", slug="fraud",
        intended_purpose="Scores card payments for fraud before authorisation.",
        risk_category="high",
    )  # fmt: skip
    production = services.create_environment(
        actor=registrar, system=system, name="Production", is_production=True
    )
    staging = services.create_environment(actor=registrar, system=system, name="Staging")

    def with_role(username: str, first: str, last: str, role: Role):  # type: ignore[no-untyped-def]
        user = person(username, first, last)
        governance.grant_role(actor=registrar, system=system, role=role, user=user)
        return user

    manager = with_role(USERNAME, "Ravi", "Manager", Role.RELEASE_MANAGER)
    manager.set_password(PASSWORD)
    manager.save(update_fields=["password"])
    second = with_role("rita", "Rita", "Reviewer", Role.RELEASE_MANAGER)
    model_owner = with_role("mona", "Mona", "Modeller", Role.MODEL_OWNER)
    rollback_owner = with_role("rob", "Rob", "Rollback", Role.ROLLBACK_OWNER)
    lead = with_role("olga", "Olga", "Oncall", Role.ONCALL_LEAD)
    with_role("rhea", "Rhea", "Responder", Role.RESPONDER)
    with_role("carl", "Carl", "Compliance", Role.COMPLIANCE_OFFICER)
    with_role("vic", "Vic", "Viewer", Role.VIEWER)
    managers = [
        with_role(f"rm{n:02d}", f"Reviewer{n:02d}", "Approver", Role.RELEASE_MANAGER)
        for n in range(1, 21)
    ]

    # The release live in Staging and Production: every step through the services.
    live = _register(model_owner, system, "1.0.0")
    for n in range(len(CARD)):
        _gate_check(model_owner, live, n)
    _plan(model_owner, live, production, rollback_owner)
    live = services.submit_release(actor=model_owner, release=live)
    for approver in (manager, second):
        services.record_approval(actor=approver, release=live, decision="approve", comment="ok")
    live.refresh_from_db()
    _go_live(manager, live, staging)
    _go_live(manager, live, production)
    live.refresh_from_db()
    if live.status != ReleaseStatus.LIVE:
        raise RuntimeError(f"release 1.0.0 is {live.status}, not live")

    # The measured release: 50 gate checks through the services, then 20 approvals (written
    # in bulk: through the service the second approval would end the review).
    measured = _register(model_owner, system, "3.0.0-rc.1")
    for n in range(50):
        _gate_check(model_owner, measured, n)
    _plan(model_owner, measured, production, rollback_owner)
    measured = services.submit_release(actor=model_owner, release=measured)
    Approval.objects.bulk_create(
        Approval(
            release=measured,
            approver=approver,
            decision=Decision.APPROVE,
            comment=f"Checked the protected-segment report ({approver.username}).",
            release_digest=measured.content_digest,
        )
        for approver in managers
    )

    approvers, rejecter = [second, managers[0]], managers[1]
    bulk = _bulk_releases(system, model_owner, release_count - 2, approvers, rejecter)
    incident_pk = _incident(lead, system, production, timeline_entries)
    seal_all()  # as the worker's sealer would have by now
    return Scene(
        measured_pk=measured.pk,
        measured_version=measured.version,
        newest_version=bulk[-1].version,
        queue_rows=approval_queue(manager).count(),
        releases=release_count,
        incident_pk=incident_pk,
        timeline_entries=timeline_entries,
    )


def count_queries(scene: Scene) -> dict[str, int]:
    """Queries per page, through the test client in this process (same settings, same data)."""
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME=HOST)
    client.force_login(get_user_model().objects.get(username=USERNAME))
    counts = {}
    for name, path in page_paths(scene).items():
        client.get(path)  # warm process-wide caches (content types, templates)
        caches["pages"].clear()  # the queries of a render, not of a cached copy
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} under the test client")
        counts[name] = len(captured)
    return counts


def page_paths(scene: Scene) -> dict[str, str]:
    return {
        "release": f"/releases/{scene.measured_pk}/",
        "render": f"/releases/{scene.measured_pk}/",
        "list": "/releases/",
        "queue": "/approvals/",
        "war_room": f"/incidents/{scene.incident_pk}/",
        "empty": "/bench/empty/",
    }


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    args = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"{HOST}:{port}", "--workers", "2", "--worker-class", "sync",
        "--chdir", str(ROOT), "--no-control-socket", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError):
            if exchange(port, _request("/healthz"))[0] == 200:
                return process
        if process.poll() is not None or time.monotonic() > deadline:
            stop_gunicorn(process)
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn did not start:\n{tail}")
        time.sleep(0.1)


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- the client ------------------------------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


def _request(path: str, method: str = "GET", cookies: str = "", body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}",
        "User-Agent: failsafe-bench",
        "Accept: text/html,application/xhtml+xml",
    ]
    if cookies:
        lines.append(f"Cookie: {cookies}")
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close after each response).

    Reads to the server's close when it announces one, so the server, not this client, holds
    the TIME_WAIT: hundreds of thousands of connections never run out of client ports.
    """
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        buffer = bytearray()
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed before the response headers")
            buffer += chunk
        head = bytes(buffer[: end + 2])
        start = end + 4
        length_match = _CONTENT_LENGTH.search(head)
        until_close = length_match is None or _CLOSE.search(head) is not None
        length = int(length_match.group(1)) if length_match else None
        while until_close or len(buffer) - start < (length or 0):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        body = bytes(buffer[start : start + length] if length is not None else buffer[start:])
        if length is not None and len(body) != length:
            raise ConnectionError(f"short body: {len(body)} of {length} bytes")
        return int(head[9:12]), head, body


def _cookies_from(head: bytes, jar: dict[str, str]) -> None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "set-cookie":
            for morsel in SimpleCookie(value.strip()).values():
                jar[morsel.key] = morsel.value


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


# --- the measurement ---------------------------------------------------------------------------


@dataclass
class PageResult:
    name: str
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    app_cpu: float = 0.0  # CPU seconds of the gunicorn workers
    db_cpu: float = 0.0  # CPU seconds of PostgreSQL's processes
    client_cpu: float = 0.0  # CPU seconds of this process (the load generator)
    body_bytes: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def per_request_ms(self, seconds: float) -> float:
        return seconds / self.requests * 1000 if self.requests else 0.0


class CpuMeter:
    """CPU seconds used by processes and their children (gunicorn; PostgreSQL's postmaster)."""

    def __init__(self, roots: list[int]) -> None:
        import psutil

        self.roots = [psutil.Process(pid) for pid in roots]

    def read(self) -> dict[int, float]:
        import psutil

        seen: dict[int, float] = {}
        for root in self.roots:
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    seen[process.pid] = times.user + times.system
        return seen

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


def run_phase(
    port: int, request: bytes, check: Callable[[int, bytes], str | None], connections: int,
    seconds: float,
) -> tuple[int, float, list[float], int]:  # fmt: skip
    """`connections` client threads request the page until the time is up; every answer checked."""
    counts = [0] * connections
    sizes = [0] * connections
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[str | BaseException] = []
    window: dict[str, float] = {}
    stop = threading.Event()

    def open_window() -> None:
        window["start"] = time.perf_counter()
        window["deadline"] = window["start"] + seconds

    barrier = threading.Barrier(connections, action=open_window)

    def client(index: int) -> None:
        try:
            barrier.wait()
            deadline, mine, n, size = window["deadline"], latencies[index], 0, 0
            while (started := time.perf_counter()) < deadline and not stop.is_set():
                status, _, body = exchange(port, request)
                mine.append(time.perf_counter() - started)
                problem = check(status, body)
                if problem:
                    errors.append(problem)
                    stop.set()
                    break
                n += 1
                size += len(body)
            counts[index], sizes[index] = n, size
        except BaseException as exc:
            errors.append(exc)
            stop.set()
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - window.get("start", time.perf_counter())
    if errors:
        error = errors[0]
        raise error if isinstance(error, BaseException) else RuntimeError(error)
    return sum(counts), elapsed, [x for per in latencies for x in per], sum(sizes)


def _checker(name: str, markers: list[bytes]) -> Callable[[int, bytes], str | None]:
    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"{name}: HTTP {status}: {body[:300]!r}"
        if not markers and body:
            return f"{name}: expected an empty body, got {body[:300]!r}"
        missing = [m for m in markers if m not in body]
        if missing:
            return f"{name}: the page lacks {missing!r}: {body[:300]!r}"
        return None

    return check


def measure(
    port: int, scene: Scene, cookies: str, meter: tuple[CpuMeter, CpuMeter], args: Namespace
) -> dict[str, PageResult]:
    release_markers = [
        f"Card fraud screening {scene.measured_version}".encode(),
        b"rm20",  # the last of the 20 approvers
        b'id="approvals"',
        b"Record decision",  # the decision form: the user may still decide
    ]
    markers = {
        "release": release_markers,
        "render": release_markers,
        "list": [b"table-releases", scene.newest_version.encode()],
        "queue": [b"Waiting for your decision", scene.measured_version.encode()],
        "war_room": [
            f"INC-{scene.incident_pk}".encode(),
            b'id="timeline-entries"',
            f"Observation {scene.timeline_entries - 10}:".encode(),  # among the newest
            b"fraud-model-0.9",  # the containment action
        ],
        "empty": [],
    }
    paths = page_paths(scene)
    requests = {name: _request(path, cookies=cookies) for name, path in paths.items()}
    without_csrf = "; ".join(c for c in cookies.split("; ") if not c.startswith("csrftoken="))
    requests["render"] = _request(paths["render"], cookies=without_csrf)
    checks = {name: _checker(name, markers[name]) for name in paths}
    results = {name: PageResult(name) for name in paths}
    app_meter, db_meter = meter

    for name in paths:  # warm both workers: templates, connections, caches
        run_phase(port, requests[name], checks[name], args.connections, args.warmup)
    for name, served in (
        ("release", b"hit"),
        ("render", b"bypass"),
        ("war_room", b"hit"),
    ):  # each measures its path
        head = exchange(port, requests[name])[1].lower()
        if b"x-page-cache: " + served not in head:
            raise RuntimeError(f"{name}: expected a page-cache {served.decode()}: {head!r}")
    order = list(paths)
    for r in range(args.rounds):
        shift = r % len(order)
        for name in order[shift:] + order[:shift]:  # rotate so no page always goes first
            app_before, db_before = app_meter.read(), db_meter.read()
            client_before = time.process_time()
            count, elapsed, latencies, size = run_phase(
                port, requests[name], checks[name], args.connections, args.seconds
            )
            result = results[name]
            result.requests += count
            result.seconds += elapsed
            result.latencies += latencies
            result.body_bytes += size
            result.app_cpu += CpuMeter.used(app_before, app_meter.read())
            result.db_cpu += CpuMeter.used(db_before, db_meter.read())
            result.client_cpu += time.process_time() - client_before
            print(f"  round {r + 1}  {name:<8} {count / elapsed:8.1f} requests/s", flush=True)
    return results


# --- profile (optional) -----------------------------------------------------------------------


def profile_release_page(scene: Scene, renders: int = 200) -> None:
    """Where the release page's time goes, in this process under the test client.

    Wall-clock ms of the whole request and of the view's parts (the query, the rest of the
    context, the template), the time of each SQL statement, then cProfile of the app's code.
    """
    import cProfile
    import io
    import pstats
    from collections import defaultdict

    from django.contrib.auth import get_user_model
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.db import connection
    from django.shortcuts import render
    from django.test import Client, RequestFactory

    from releases import queries, views

    user = get_user_model().objects.get(username=USERNAME)
    client = Client(SERVER_NAME=HOST)
    client.force_login(user)
    path = page_paths(scene)["release"]

    def request():  # type: ignore[no-untyped-def]
        request = RequestFactory(SERVER_NAME=HOST).get(path)
        request.user, request.htmx, request.session = user, False, {}
        request._messages = FallbackStorage(request)
        return request

    def context() -> dict:
        page = views._page_context(request(), queries.release_detail(scene.measured_pk, user))
        page["events"] = list(page["events"])  # the template would run this query
        return page

    def ms(call: Callable[[], object]) -> float:
        for _ in range(20):
            call()
        started = time.perf_counter()
        for _ in range(renders):
            call()
        return (time.perf_counter() - started) / renders * 1000

    ready = context()
    print(f"\nprofile of {path}, ms per request (wall clock, {renders} runs each):")
    print(f"  whole request (test client)    {ms(lambda: client.get(path)):7.2f}")
    print(f"  empty view (test client)       {ms(lambda: client.get('/bench/empty/')):7.2f}")
    print(
        f"  queries.release_detail         "
        f"{ms(lambda: queries.release_detail(scene.measured_pk, user)):7.2f}"
    )
    print(f"  _page_context incl. the above  {ms(context):7.2f}")
    template = "releases/release_detail.html"
    print(f"  render the template            {ms(lambda: render(request(), template, ready)):7.2f}")

    statements: dict[str, list[float]] = defaultdict(list)

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[sql].append(time.perf_counter() - started)

    with connection.execute_wrapper(timed):
        for _ in range(20):
            client.get(path)
    total = sum(sum(t) for t in statements.values()) / 20 * 1000
    print(f"\n  {len(statements)} SQL statements, {total:.2f} ms per request in all:")
    for sql, times in sorted(statements.items(), key=lambda item: -sum(item[1])):
        print(f"  {sum(times) / 20 * 1000:6.2f} ms  {sql[:110]}")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(renders):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    app_code = r"/(releases|governance)/|guardian/(shortcuts|core)|shortcuts|loader_tags"
    stats.print_stats(app_code, 40)
    print(out.getvalue())


def _pairs(**values: object) -> str:
    return " ".join(
        f"{key}={value:.{3 if key.endswith('ratio') else 2}f}"
        if isinstance(value, float)
        else f"{key}={value}"
        for key, value in values.items()
    )


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--seconds", type=float, default=5.0, help="per page and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0, help="per page, before round 1")
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--timeline", type=int, default=1000, help="war-room timeline entries")
    parser.add_argument("--profile", action="store_true", help="cProfile the release page too")
    args = parser.parse_args()

    data_dir = project_data_dir() / f"bench-pages-{os.getpid()}"
    postgres, server = None, None
    try:
        print(f"Starting a fresh embedded PostgreSQL in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir / "postgres")
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE=SETTINGS,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            DATABASE_URL=postgres.url(),
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
        )
        os.environ.update(env)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        scene = build_scene(args.releases, args.timeline)
        queries = count_queries(scene)
        print(
            f"Data written in {time.perf_counter() - started:.0f} s: {scene.releases} releases, "
            f"{scene.timeline_entries} timeline entries, "
            f"{scene.queue_rows} in the approvals queue",
            flush=True,
        )
        if args.profile:
            profile_release_page(scene)
        connections.close_all()

        port = _free_port()
        server = start_gunicorn(env, port, data_dir / "gunicorn.log")
        cookies = log_in(port)
        meter = (CpuMeter([server.pid]), CpuMeter([_postmaster_pid(postgres.data_dir)]))
        print(f"gunicorn on http://{HOST}:{port}/, 2 sync workers; logged in as {USERNAME}")
        load = os.getloadavg()[0]
        results = measure(port, scene, cookies, meter, args)
    finally:
        if server is not None:
            stop_gunicorn(server)
        if postgres is not None:
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)

    empty = results["empty"]
    print()
    print(
        f"{args.connections} connections, {args.rounds} rounds x {args.seconds:g} s per page, "
        f"interleaved; CPU in ms per request; load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'page':<9}{'requests':>9}{'per s':>9}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'queries':>8}{'KiB':>7}{'app cpu':>9}{'db cpu':>8}{'client':>8}"
    )
    for r in results.values():
        print(
            f"{r.name:<9}{r.requests:>9}{r.per_second:>9.1f}{r.per_second / empty.per_second:>7.2f}"
            f"{r.percentile(0.5):>8.1f}{r.percentile(0.99):>8.1f}{queries[r.name]:>8}"
            f"{r.body_bytes / max(r.requests, 1) / 1024:>7.1f}{r.per_request_ms(r.app_cpu):>9.2f}"
            f"{r.per_request_ms(r.db_cpu):>8.2f}{r.per_request_ms(r.client_cpu):>8.2f}"
        )
    print()
    ratios = {name: r.per_second / empty.per_second for name, r in results.items()}
    for name, r in results.items():  # one line per page
        if name != "empty":
            print(
                _pairs(
                    page=name, ratio=ratios[name], rps=r.per_second, p50_ms=r.percentile(0.5),
                    queries=queries[name],
                )
            )  # fmt: skip
    release, war_room = results["release"], results["war_room"]
    meets = ratios["release"] >= TARGET_RATIO and ratios["war_room"] >= TARGET_RATIO
    print(
        _pairs(
            page="release", ratio=ratios["release"], rps=release.per_second,
            p50_ms=release.percentile(0.5), render_ratio=ratios["render"],
            war_room_ratio=ratios["war_room"], war_room_rps=war_room.per_second,
            war_room_p50_ms=war_room.percentile(0.5), timeline_entries=scene.timeline_entries,
            list_ratio=ratios["list"], queue_ratio=ratios["queue"], queue_rows=scene.queue_rows,
            empty_rps=empty.per_second, release_queries=queries["release"],
            war_room_queries=queries["war_room"], target=TARGET_RATIO, meets_target=int(meets),
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From an Alertmanager webhook that meets an automatic trigger to the backend receiving the
rollback call, against a bare task.

    .venv/bin/python bench/alert_to_rollback.py [--alerts 100] [--warmup 10]

Brings up its own embedded PostgreSQL and Redis broker in a fresh data folder, migrates, and
builds through the services one high-risk system with one environment per alert (a rollback
is active per environment at most, and a plan names one environment), each pointed at ONE
real webhook receiver (tests/fixtures/webhook_server.py, in this process): release 2.0.0
live everywhere, then in each environment a release of its own (2.1.0-rNNN) taken live over
it, whose rollback plan is *automatic* with the trigger `review_rate > 2.5 for 15 min`, and
an alert token for Alertmanager.

Then the production Celery worker and gunicorn serve the app on loopback (as
bench/rollback_latency.py brings them up), and the client measures, one at a time and
interleaved pair by pair in random order:

  alert     POST /api/alerts/alertmanager/ with the token: Alertmanager's version-4 webhook
            of one firing alert (`ReviewRateHigh`, critical, `metric=review_rate`, annotation
            `value=3.1`, firing for 20 minutes) for that environment, timed from sending the
            request to the receiver receiving the signed rollback call of that environment.
            The intake declares the incident, the plan's trigger holds (the alert has been
            firing past its window), the automatic mode asks for the rollback through the
            press, and the worker makes it. The next measurement starts when the request is
            recorded as succeeded.
  baseline  the bare Celery task of bench/rollback_latency.py (bench/latency_tasks.py): one
            signed HTTP POST to the same receiver through the same broker and worker.

Every alert must end in exactly one rollback call at the receiver, else the script fails.
The last line is key=value pairs; ratio = alert p50 / baseline p50.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import (  # noqa: E402  (the same server and raw HTTP client)
    HOST,
    CpuMeter,
    _free_port,
    _postmaster_pid,
    exchange,
    start_gunicorn,
    stop_gunicorn,
)
from bench.rollback_latency import (  # noqa: E402  (the same worker, log reader and series)
    IDLE_SECONDS,
    WAIT_SECONDS,
    Bench,
    Series,
    WorkerLog,
    _tail,
    start_worker,
    stop_worker,
)
from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

if TYPE_CHECKING:
    from tests.fixtures.webhook_server import WebhookReceiver

OLD = "2.0.0"  # what every rollback puts back
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO = 40, 120, 10
ALERT_PATH = "/api/alerts/alertmanager/"


@dataclass(frozen=True)
class Target:
    environment_pk: int
    slug: str
    version: str  # the release the alert rolls back


def build(receiver: WebhookReceiver, count: int) -> tuple[list[Target], str]:
    """`count` environments on the receiver, each with OLD then a release of its own live,
    that release's plan automatic on `review_rate`; and an alert token's secret."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.audit.chain import seal_all
    from governance.roles import Role
    from incidents.services.alert_tokens import create_alert_token
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

    def with_role(username: str, role: Role):  # type: ignore[no-untyped-def]
        user = users.create_user(username, f"{username}@example.com", None)
        governance.grant_role(actor=registrar, system=system, role=role, user=user)
        return user

    model_owner = with_role("mona", Role.MODEL_OWNER)
    managers = [with_role(name, Role.RELEASE_MANAGER) for name in ("ravi", "rita")]
    rollback_owner = with_role("rob", Role.ROLLBACK_OWNER)
    # Production regions: once a non-production one had two releases live, "rollback path
    # ready" would need a drill there; releases are approved here after others went live.
    environments = [
        receiver.configure(
            services.create_environment(
                actor=registrar, system=system, name=f"Region {n:03d}", is_production=True
            )
        )
        for n in range(count)
    ]

    def approved(version: str, environment, mode: str, triggers: list):  # type: ignore[no-untyped-def]
        release = services.create_release(
            actor=model_owner, system=system, version=version, title=f"Fraud model {version}",
            card=CARD, components=stack(version), change_categories=["major_dataset_refresh"],
        )  # fmt: skip
        pass_every_gate(release, model_owner)
        services.save_rollback_plan(
            actor=model_owner, release=release, environment=environment,
            owners=[rollback_owner], mode=mode, cooldown_minutes=30, triggers=triggers,
        )  # fmt: skip
        services.submit_release(actor=model_owner, release=release)
        for approver in managers:
            services.record_approval(
                actor=approver, release=release, decision="approve", comment="ok"
            )
        release.refresh_from_db()
        return release

    def live(release, environment) -> None:  # type: ignore[no-untyped-def]
        step = go_live(release, managers[0], environment)
        if step.status != StepStatus.APPLIED:
            raise RuntimeError(f"{release.version} not live in {environment}: {step.error}")

    old = approved(OLD, environments[0], "manual", [])
    for environment in environments:
        live(old, environment)
    trigger = {"metric": "review_rate", "comparison": "gt", "threshold": "2.5",
               "window_minutes": 15}  # fmt: skip
    targets = []
    for n, environment in enumerate(environments):
        release = approved(f"2.1.0-r{n:03d}", environment, "automatic", [trigger])
        live(release, environment)
        targets.append(Target(environment.pk, environment.slug, release.version))
    _, secret = create_alert_token(actor=registrar, system=system, name="Alertmanager")
    seal_all()  # as the worker's sealer would have by now
    return targets, secret


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alertmanager_body(target: Target) -> bytes:
    """Alertmanager's version-4 webhook: one alert, firing for 20 minutes."""
    starts = datetime.now(UTC) - timedelta(minutes=20)
    labels = {
        "alertname": "ReviewRateHigh",
        "severity": "critical",
        "environment": target.slug,
        "metric": "review_rate",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"value": "3.1", "summary": "Review rate 3.1 % (budget 2.5 %)"},
        "startsAt": _rfc3339(starts),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com/graph",
        "fingerprint": f"{target.environment_pk:016x}",
    }
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="ReviewRateHigh", environment="{target.slug}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "failsafe",
        "groupLabels": {"alertname": "ReviewRateHigh", "environment": target.slug},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example.com",
        "alerts": [alert],
    }
    return json.dumps(payload).encode()


def alert_request(body: bytes, secret: str) -> bytes:
    head = [
        f"POST {ALERT_PATH} HTTP/1.1",
        f"Host: {HOST}",
        "User-Agent: Alertmanager/0.25.0",
        "Content-Type: application/json",
        f"Authorization: Bearer {secret}",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class AlertBench(Bench):
    secret = ""

    def alert(self, target: Target) -> dict[str, float]:
        """Post the alert; wait for the rollback call, then for the request to succeed."""
        from releases.models import RollbackRequest, RollbackStatus

        self.receiver.set_live(target.version)
        mark = len(self.receiver.calls)
        request = alert_request(alertmanager_body(target), self.secret)
        sent = time.time()
        status, head, body = exchange(self.port, request)
        answered = time.time()
        if status != 202:
            raise RuntimeError(f"the alert intake answered {status}: {head[:200]!r} {body[:500]!r}")
        call = self._call(
            mark,
            lambda c: c.action == "rollback" and c.json.get("environment") == target.slug,
            f"the rollback call of {target.slug}",
        )
        found = None
        while found is None or found.status not in (
            RollbackStatus.SUCCEEDED,
            RollbackStatus.FAILED,
        ):
            self._left()
            if time.time() - sent > WAIT_SECONDS:
                state = found.status if found else "unrecorded"
                raise RuntimeError(f"the rollback of {target.slug} is still {state}")
            time.sleep(0.01)
            found = RollbackRequest.objects.filter(environment_id=target.environment_pk).first()
        if found.status != RollbackStatus.SUCCEEDED or found.requested_by_id is not None:
            raise RuntimeError(f"the rollback of {target.slug} failed: {found.error}")
        return {
            "requested": found.requested_at.timestamp() - sent,
            "answered": answered - sent,
            "received": call.received_at - sent,
        }


def measure(bench: AlertBench, targets: list[Target], warmup: int) -> tuple[Series, Series]:
    alerts, baselines = Series("alert"), Series("baseline")
    for target in targets[:warmup]:
        bench.run(lambda: bench.alert(target), None)  # noqa: B023  (called right here)
        bench.run(bench.baseline, None)
    coin = random.Random(20261207)
    measured = targets[warmup:]
    for n, target in enumerate(measured, 1):
        pair: list[tuple[Callable[[], dict[str, float]], Series]] = [
            (lambda: bench.alert(target), alerts),  # noqa: B023  (called right here)
            (bench.baseline, baselines),
        ]
        if coin.random() < 0.5:
            pair.reverse()
        for operation, series in pair:
            bench.run(operation, series)
        if n % 25 == 0:
            print(
                f"  {n:>4} of {len(measured)}: alert p50 {alerts.ms('received', 0.5):6.1f} ms, "
                f"baseline p50 {baselines.ms('received', 0.5):6.1f} ms",
                flush=True,
            )
    return alerts, baselines


def check_exactly_once(receiver: WebhookReceiver, targets: list[Target]) -> None:
    calls: dict[str, int] = {}
    for call in receiver.calls:
        if call.action == "rollback":
            environment = call.json.get("environment")
            calls[environment] = calls.get(environment, 0) + 1
    if any(calls.get(t.slug) != 1 for t in targets):
        wrong = {t.slug: calls.get(t.slug, 0) for t in targets if calls.get(t.slug) != 1}
        raise RuntimeError(f"not exactly one rollback call per alert: {wrong}")


def report(alerts: Series, baselines: Series, args: argparse.Namespace, load: float) -> bool:
    print()
    print(
        f"{len(alerts)} alerts and {len(baselines)} baseline tasks, one at a time, "
        f"interleaved (after {args.warmup} of each to warm up); load average {load:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after (on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'ms until the receiver got the call':<40}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
        f"   CPU ms each: {'web':>6}{'worker':>8}{'db':>7}"
    )
    for series, what in ((alerts, "alert (from the webhook post)"), (baselines, "baseline")):
        print(
            f"{what:<40}{series.ms('received', 0.5):>8.1f}{series.ms('received', 0.9):>8.1f}"
            f"{series.ms('received', 0.99):>8.1f}{series.ms('received', 1.0):>8.1f}"
            f"{'':>16}{series.cpu_ms('web'):>6.1f}{series.cpu_ms('worker'):>8.1f}"
            f"{series.cpu_ms('postgres'):>7.1f}"
        )
    print("\nwhere an alert's time goes, ms after the post was sent:")
    for point, label in (
        ("requested", "rollback requested (web, in the intake's transaction)"),
        ("answered", "intake answered (committed; the task handed to the broker)"),
        ("received", "rollback call reaches the receiver"),
    ):
        print(f"  {label:<58}{alerts.ms(point, 0.5):>8.1f}{alerts.ms(point, 0.99):>8.1f}")
    p50, p99 = alerts.ms("received", 0.5), alerts.ms("received", 0.99)
    base50, base99 = baselines.ms("received", 0.5), baselines.ms("received", 0.99)
    ratio = p50 / base50
    meets = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and ratio <= TARGET_RATIO
    print()
    print(
        f"path=alert_to_rollback p50_ms={p50:.1f} p99_ms={p99:.1f} baseline_p50_ms={base50:.1f} "
        f"baseline_p99_ms={base99:.1f} ratio={ratio:.2f} alerts={len(alerts)} "
        f"target_p50_ms={TARGET_P50_MS} target_p99_ms={TARGET_P99_MS} "
        f"target_ratio={TARGET_RATIO} meets_target={int(meets)}"
    )
    return meets


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # through the finally below: every process is stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=100, help="measured, one environment each")
    parser.add_argument("--warmup", type=int, default=10, help="alerts and tasks before")
    parser.add_argument("--limit", type=float, default=300, help="seconds for the measurement")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminated)

    data_dir = project_data_dir() / f"bench-alert-{os.getpid()}"
    postgres = broker = receiver = worker = server = None
    logs = {"worker": data_dir / "worker.log", "gunicorn": data_dir / "gunicorn.log"}
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
            SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
            EMAIL_URL=f"filemail:///{data_dir / 'mail'}",
            # One incident per environment's alert, all within a minute: no storm here.
            ALERT_NEW_INCIDENTS_PER_MINUTE="0",
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
        targets, secret = build(receiver, args.warmup + args.alerts)
        connections.close_all()
        print(
            f"Data written in {time.perf_counter() - started:.0f} s: {len(targets)} environments "
            f"on the receiver at {receiver.base_url}, {OLD} then a release of their own live "
            "in each, its plan automatic",
            flush=True,
        )
        worker = start_worker(env, settings.ROLLBACK_QUEUE, logs["worker"])
        port = _free_port()
        server = start_gunicorn(env, port, logs["gunicorn"])
        print(
            f"gunicorn on http://{HOST}:{port}/ (2 sync workers), a Celery worker "
            f"(concurrency 2) on queue {settings.ROLLBACK_QUEUE!r}",
            flush=True,
        )
        load = os.getloadavg()[0]
        meters = {
            "web": CpuMeter([server.pid]),
            "worker": CpuMeter([worker.pid]),
            "postgres": CpuMeter([_postmaster_pid(postgres.data_dir)]),
        }
        bench = AlertBench(
            port, "", "", receiver, settings.ROLLBACK_QUEUE, meters, WorkerLog(logs["worker"])
        )
        bench.secret = secret
        bench.deadline = time.monotonic() + args.limit
        alerts, baselines = measure(bench, targets, args.warmup)
        check_exactly_once(receiver, targets)
        bench.worker_log.wait_idle(IDLE_SECONDS)
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

    report(alerts, baselines, args, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())

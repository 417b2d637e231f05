"""The deployment gate's answer under gunicorn, against an empty authenticated API view.

    .venv/bin/python bench/gate.py [--connections 4] [--seconds 5] [--rounds 3]

The gate sits on every deployment's path (CI, Flagger's webhooks, an Argo Rollouts web
metric ask it before they move), so what it costs is measured against what any API request
costs before it does anything: bench/empty-api/, a DRF view with the API's own
authentication (the same bearer token), permissions and middleware, answering `{}`.

Brings up its own embedded PostgreSQL in a fresh data folder, migrates, and writes a system
as it is when the question is hard: Production with a release live and an approved successor
(plan, two approvals), twelve incidents on the system (two SEV1s open on Production that
name the successor their hotfix, the rest minor), a staged-rollout policy and rollout
history. Serves the app with gunicorn as production does (DEBUG off, 2 sync workers) on a
free loopback port, and asks, as a viewer's API token, interleaved round by round:

  gate      GET /api/systems/fraud/gate/?environment=production&release=2.1.0&stage=…
  flagger   POST /api/systems/fraud/gate/flagger/confirm-promotion/ (token in the metadata)
  empty     GET /bench/empty-api/

Every answer is checked (status and verdict), else the script fails. The last line is
key=value pairs; ratio = gate requests/s / empty requests/s (target ≥ 0.5).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pages import (  # noqa: E402
    HOST,
    SETTINGS,
    PageResult,
    _free_port,
    _go_live,
    _pairs,
    _plan,
    _register,
    exchange,
    run_phase,
    start_gunicorn,
    stop_gunicorn,
)
from config.embedded import EmbeddedPostgres, project_data_dir  # noqa: E402
from governance.egress import LOOPBACK_NETWORKS  # noqa: E402

TARGET_RATIO = 0.5
GATE = "/api/systems/fraud/gate/?environment=production&release=2.1.0&stage=general_release"
FLAGGER = "/api/systems/fraud/gate/flagger/confirm-promotion/"
EMPTY = "/bench/empty-api/"


def build_scene() -> str:
    """The system and its history; returns a viewer's API token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.roles import Role
    from incidents import services as incidents
    from releases import services

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
    production = services.create_environment(
        actor=registrar, system=system, name="Production", is_production=True
    )
    staging = services.create_environment(actor=registrar, system=system, name="Staging")

    def with_role(username: str, role: Role):  # type: ignore[no-untyped-def]
        user = users.create_user(username, f"{username}@example.com", None)
        governance.grant_role(actor=registrar, system=system, role=role, user=user)
        return user

    manager, second = (
        with_role("ravi", Role.RELEASE_MANAGER),
        with_role("rita", Role.RELEASE_MANAGER),
    )
    model_owner = with_role("mona", Role.MODEL_OWNER)
    rollback_owner = with_role("rob", Role.ROLLBACK_OWNER)
    lead = with_role("olga", Role.ONCALL_LEAD)
    viewer = with_role("vic", Role.VIEWER)
    services.update_gate_policy(
        actor=registrar, system=system, required_criteria=[], approvals_required=2,
        required_stages=["shadow"],
    )  # fmt: skip

    def approved(version: str):  # type: ignore[no-untyped-def]
        release = _register(model_owner, system, version)
        _plan(model_owner, release, production, rollback_owner)
        services.submit_release(actor=model_owner, release=release)
        for approver in (manager, second):
            services.record_approval(
                actor=approver, release=release, decision="approve", comment="ok"
            )
        return release

    live = approved("2.0.0")
    _shadow(manager, live, production)
    _shadow(manager, live, production, "segment_monitoring")
    _go_live(manager, live, production)
    successor = approved("2.1.0")
    _shadow(manager, successor, production)
    _shadow(manager, successor, production, "segment_monitoring")  # the stages in order
    for n in range(12):  # two SEV1s freeze Production; 2.1.0 is the hotfix of both
        incident = incidents.declare_incident(
            actor=lead, system=system, environment=production if n < 2 or n >= 8 else staging,
            title=f"Incident {n}", severity="sev1" if n < 2 else "sev3", category="performance",
        )  # fmt: skip
        if n < 2:
            incidents.cite_hotfix(actor=lead, incident=incident, release=successor)
    _, secret = governance.create_api_token(
        actor=viewer, system=system, name="deployment controller", expires_in_days=None
    )
    return secret


def _shadow(actor, release, environment, stage="shadow") -> None:  # type: ignore[no-untyped-def]
    """The shadow stage the policy requires (or `stage`), applied as the worker would."""
    from unittest import mock

    from releases import services
    from releases.services import rollouts

    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=actor, release=release, environment=environment, stage=stage,
            traffic_percent=0,
        )  # fmt: skip
    services.apply_rollout_step(step_id=step.pk)


def _get(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: application/json\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()


def _post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: application/json\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def _expects(name: str, status: int, allowed: bool | None) -> Callable[[int, bytes], str | None]:
    def check(got: int, body: bytes) -> str | None:
        if got != status:
            return f"{name}: HTTP {got}: {body[:300]!r}"
        if allowed is not None and json.loads(body).get("allowed") is not allowed:
            return f"{name}: expected allowed={allowed}: {body[:300]!r}"
        return None

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="per shape and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()

    data_dir = project_data_dir() / f"bench-gate-{os.getpid()}"
    postgres, server = None, None
    results = {name: PageResult(name) for name in ("gate", "flagger", "empty")}
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
            SECURE_SSL_REDIRECT="false",
            BACKEND_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the peers listen on loopback
            ALLOWED_HOSTS=HOST,
            STATIC_ROOT=str(data_dir / "static"),
            LOG_LEVEL="WARNING",
            # A load test of one token, not a client: its rate limit would answer it with 429.
            API_RATE_TOKEN="1000000/min",
        )
        os.environ.update(env)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        token = build_scene()
        connections.close_all()

        port = _free_port()
        server = start_gunicorn(env, port, data_dir / "gunicorn.log")
        metadata = {"environment": "production", "release": "2.1.0", "token": token}
        flagger = {"name": "fraud-scorer", "namespace": "ml", "phase": "Progressing",
                   "checksum": "6d8f5c8c4b", "metadata": metadata}  # fmt: skip
        requests = {
            "gate": _get(GATE, token),
            "flagger": _post(FLAGGER, flagger),
            "empty": _get(EMPTY, token),
        }
        # The hotfix of the open SEV1s, its required stage passed: allowed.
        checks = {
            "gate": _expects("gate", 200, True),
            "flagger": _expects("flagger", 200, True),
            "empty": _expects("empty", 200, None),
        }
        for name, request in requests.items():
            run_phase(port, request, checks[name], args.connections, args.warmup)
        order = list(requests)
        for r in range(args.rounds):
            shift = r % len(order)
            for name in order[shift:] + order[:shift]:
                count, elapsed, latencies, _ = run_phase(
                    port, requests[name], checks[name], args.connections, args.seconds
                )
                result = results[name]
                result.requests += count
                result.seconds += elapsed
                result.latencies += latencies
                print(f"  round {r + 1}  {name:<8} {count / elapsed:8.1f} requests/s", flush=True)
        exchange(port, requests["gate"])  # still answering after the load
    finally:
        if server is not None:
            stop_gunicorn(server)
        if postgres is not None:
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)

    gate, flagger, empty = results["gate"], results["flagger"], results["empty"]
    ratio = gate.per_second / empty.per_second
    flagger_ratio = flagger.per_second / empty.per_second
    print(
        _pairs(
            endpoint="gate", ratio=ratio, rps=gate.per_second, p50_ms=gate.percentile(0.5),
            p99_ms=gate.percentile(0.99), flagger_ratio=flagger_ratio,
            flagger_p50_ms=flagger.percentile(0.5), empty_rps=empty.per_second,
            empty_p50_ms=empty.percentile(0.5), target=TARGET_RATIO,
            meets_target=int(ratio >= TARGET_RATIO),
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

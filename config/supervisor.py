"""Keeps `make run`'s processes running: the web server, the Celery worker and the two beats.

A process that ends by itself (a crash, an out-of-memory kill, kombu ending the worker when
the broker goes away) is started again after a pause that doubles with each exit in a row
(1 s, 2 s, 4 s … at most 30 s), and the console says what happened; a process that ran for
a minute before it ended starts from a 1 s pause again. The product stays up: one dead
process is never a reason to stop the others. Ctrl-C or SIGTERM stops all of them, each
given STOP_SECONDS for a warm shutdown (running tasks finish, open requests are answered)
before SIGKILL.

Each process runs in a session of its own, so a Ctrl-C at the terminal reaches only the
supervisor, which then stops them all, and whatever they started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a process that ran this long before it ended was not crash-looping
STOP_SECONDS = 20.0  # for a warm shutdown, before SIGKILL
POLL_SECONDS = 0.2


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    exits_in_a_row: int = 0
    restart_at: float | None = None  # while it waits to be started again

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


@dataclass
class Supervisor:
    cwd: Path
    env: dict[str, str]
    first_pause: float = FIRST_PAUSE_SECONDS
    longest_pause: float = LONGEST_PAUSE_SECONDS
    children: list[Child] = field(default_factory=list)
    stopping: bool = False  # set by the signal handler, read by the loop: nothing to deadlock

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Child:
        """Start `args` now (with the supervisor's environment, updated by `env`) and keep it
        running."""
        child = Child(name, args, {**self.env, **(env or {})})
        self.children.append(child)
        self._spawn(child)
        return child

    def watch(self) -> None:
        """Look after the children until Ctrl-C or SIGTERM (then stop() them)."""
        previous = {sig: signal.signal(sig, self._stop_asked) for sig in _STOP_SIGNALS}
        try:
            while not self.stopping:
                now = time.monotonic()
                for child in self.children:
                    self._look_after(child, now)
                time.sleep(POLL_SECONDS)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """SIGTERM to each process's group; SIGKILL to whatever is left after STOP_SECONDS."""
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for process in running:  # what a process left behind in its group (pool children)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def _stop_asked(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _look_after(self, child: Child, now: float) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart_at = None
                self._spawn(child)
                _say(f"{child.name} started again (pid {child.pid})")
            return
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            return
        # Its pool processes (the worker's, gunicorn's) must not outlive it: the new one
        # would share the broker's messages or the port with orphans.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        ran = now - child.started_at
        child.exits_in_a_row = 1 if ran >= STEADY_SECONDS else child.exits_in_a_row + 1
        pause = min(self.longest_pause, self.first_pause * 2 ** (child.exits_in_a_row - 1))
        child.restart_at = now + pause
        _say(
            f"{child.name} (pid {child.process.pid}) {_how(code)} after {ran:.1f}s; "
            f"starting it again in {pause:g}s"
        )

    def _spawn(self, child: Child) -> None:
        child.started_at = time.monotonic()
        child.process = subprocess.Popen(
            child.args, cwd=self.cwd, env=child.env, start_new_session=True
        )


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _how(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _say(message: str) -> None:
    print(f"[failsafe] {message}", flush=True)

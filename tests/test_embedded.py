"""The embedded PostgreSQL and Redis (Valkey) start and answer from any checkout path, also one
too long for a unix socket's path (~104 bytes): their sockets live in a short private folder."""

from __future__ import annotations

import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from config.embedded import EmbeddedPostgres, EmbeddedRedis, project_data_dir


@pytest.fixture
def long_data_dir():
    # Under the project's data folder, not pytest's: as root the PostgreSQL package opens the
    # folder's parents to the user the server runs as (see tests/test_make_run.py).
    project_data_dir().mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="long-", dir=project_data_dir()))
    path = base.joinpath(*["a-checkout-folder-with-a-long-name"] * 4)
    assert len(str(path / "postgres")) > 110
    yield path
    shutil.rmtree(base, ignore_errors=True)


def _assert_private_and_short(socket_dir: Path) -> None:
    assert len(str(socket_dir)) < 60
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700


def test_postgres_answers_from_a_data_dir_too_long_for_a_socket(long_data_dir):
    postgres = EmbeddedPostgres.start(long_data_dir / "postgres")
    try:
        _assert_private_and_short(postgres.socket_dir)
        with psycopg.connect(postgres.url()) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("failsafe",)
        # A second start finds the running server and the same socket.
        again = EmbeddedPostgres.start(long_data_dir / "postgres")
        assert again.socket_dir == postgres.socket_dir
    finally:
        postgres.stop()
    assert not postgres.socket_dir.exists()


def test_redis_answers_from_a_data_dir_too_long_for_a_socket(long_data_dir):
    broker = EmbeddedRedis.start(long_data_dir / "redis", persist=False)
    try:
        _assert_private_and_short(broker.socket.parent)
        client = redis.Redis.from_url(broker.url().replace("redis+socket://", "unix://"))
        assert client.ping()
        client.close()
    finally:
        broker.stop()
    assert not broker.socket.parent.exists()


def test_a_socket_folder_someone_else_made_is_refused(tmp_path):
    from config.embedded import socket_dir

    path = socket_dir(tmp_path)
    path.chmod(0o755)  # readable by others: not ours to trust
    try:
        with pytest.raises(RuntimeError, match="not a private folder"):
            socket_dir(tmp_path)
    finally:
        path.rmdir()

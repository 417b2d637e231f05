"""Settings come from the environment, strictly; production defaults are the safe ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_rate, env_secret, parse_rate, redis_url
from tests.production_env import manage, production_env

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_unless_turned_on():
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)",
        env=production_env(),
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_a_missing_secret_key_stops_start_up():
    env = production_env()
    del env["SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_an_unknown_organisation_time_zone_stops_start_up():
    result = manage("check", env=production_env(ORGANISATION_TIME_ZONE="Europe/Atlantis"))
    assert result.returncode != 0
    assert "ORGANISATION_TIME_ZONE 'Europe/Atlantis' is no IANA time zone" in result.stderr


def test_booleans_accept_only_true_or_false(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    with pytest.raises(ImproperlyConfigured, match="'true' or 'false'"):
        env_bool("FLAG", default=False)
    monkeypatch.setenv("FLAG", "TRUE")
    assert env_bool("FLAG", default=False) is True
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", default=True) is True


def test_secrets_can_come_from_a_file(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_TOKEN_FILE", str(secret))
    assert env_secret("SOME_TOKEN") == "from-a-file"


@pytest.mark.django_db
def test_a_statement_run_again_is_prepared_by_postgresql(django_user_model):
    from django.db import connection

    for pk in range(6):  # the same query with other values: prepared on its sixth run
        list(django_user_model.objects.filter(pk=pk).values_list("username"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['SELECT "auth_user"."username" % FROM "auth_user" WHERE "auth_user"."id" = $1'],
        )
        assert cursor.fetchone()[0] == 1


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    show = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"
    on = manage("shell", "-c", show, env=production_env())
    off = manage("shell", "-c", show, env=production_env(DB_PREPARED_STATEMENTS="false"))
    assert "'prepare_threshold': 5" in on.stdout, on.stderr
    assert "prepare_threshold" not in off.stdout and off.returncode == 0, off.stderr


_SHOW_POOL = (
    "from django.conf import settings; d = settings.DATABASES['default'];"
    " print(d['CONN_MAX_AGE'], d['OPTIONS'].get('pool'))"
)


def test_connections_come_from_a_bounded_pool_in_each_process():
    default = manage("shell", "-c", _SHOW_POOL, env=production_env())
    sized = manage("shell", "-c", _SHOW_POOL, env=production_env(
        DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="4", DB_POOL_TIMEOUT="2",
    ))  # fmt: skip
    off = manage("shell", "-c", _SHOW_POOL, env=production_env(DB_POOL="false"))

    # CONN_MAX_AGE 0: the pool keeps the connections (Django refuses a pool with it set)
    last = [result.stdout.strip().splitlines()[-1] for result in (default, sized, off)]
    assert last[0] == "0 {'min_size': 2, 'max_size': 8, 'timeout': 5}", default.stderr
    assert last[1] == "0 {'min_size': 1, 'max_size': 4, 'timeout': 2}"
    assert last[2] == "60 None"  # DB_POOL=false: Django's persistent connections instead


@pytest.mark.parametrize(
    "setting",
    [
        {"DB_POOL_MIN_SIZE": "9"},  # above the maximum of 8
        {"DB_POOL_MAX_SIZE": "0"},
        {"DB_POOL_TIMEOUT": "0"},
        {"DB_CONN_MAX_AGE": "60"},  # persistent connections are the pool's, not Django's
    ],
)
def test_pool_settings_that_cannot_work_stop_start_up(setting):
    result = manage("check", env=production_env(**setting))

    assert result.returncode != 0
    assert next(iter(setting)) in result.stderr


# Twelve "requests" on four threads, each handing its connection back as Django does when a
# response is sent, then the same query in six more; prints the sessions they ran on and how
# many statements PostgreSQL prepared for that query.
POOLED_REQUESTS = """
import threading

import django

django.setup()
from django.contrib.auth.models import User
from django.db import connection

sessions, barrier = set(), threading.Barrier(4)


def requests():
    barrier.wait()
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid() FROM pg_sleep(0.05)")
            sessions.add(cursor.fetchone()[0])
        connection.close()


threads = [threading.Thread(target=requests) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for pk in range(6):
    list(User.objects.filter(pk=pk).values_list("username"))
    connection.close()
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
        ['SELECT "auth_user"."username" % FROM "auth_user" WHERE "auth_user"."id" = $1'],
    )
    print(len(sessions), cursor.fetchone()[0])
"""


@pytest.mark.django_db
def test_threads_share_the_pooled_connection_and_its_prepared_statements():
    # A pool of one: every request runs on that one session, and a statement run again in
    # later requests is prepared on it (the pool keeps what a connection prepared).
    from tests.conftest import worker_database_url

    env = production_env(
        DATABASE_URL=worker_database_url(), DB_POOL_MIN_SIZE="0", DB_POOL_MAX_SIZE="1",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", POOLED_REQUESTS], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]  # one session; the query prepared on it


# --- the rate limits' cache and rates --------------------------------------------------------
SHOW_THROTTLE = (
    "from django.conf import settings; "
    "print(settings.CACHES['throttle']['LOCATION']); "
    "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
)


def test_the_rate_limits_count_in_the_brokers_redis_unless_told_otherwise():
    broker = production_env(CELERY_BROKER_URL="redis://redis.internal:6379/0")
    assert manage("shell", "-c", SHOW_THROTTLE, env=broker).stdout.splitlines()[-2] == (
        "redis://redis.internal:6379/0"
    )
    own = production_env(CACHE_URL="rediss://:pw@cache.internal:6380/2")
    assert manage("shell", "-c", SHOW_THROTTLE, env=own).stdout.splitlines()[-2] == (
        "rediss://:pw@cache.internal:6380/2"
    )


def test_with_a_rabbitmq_broker_the_cache_url_must_be_set():
    env = production_env(CELERY_BROKER_URL="amqp://guest:guest@rabbit:5672//")
    env.pop("CACHE_URL", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "CACHE_URL (or CACHE_URL_FILE) must be set to a Redis URL" in result.stderr
    env["CACHE_URL"] = "redis://redis.internal:6379/0"
    assert manage("check", env=env).returncode == 0


def test_a_cache_url_that_is_not_redis_stops_start_up():
    result = manage("check", env=production_env(CACHE_URL="memcached://cache:11211"))
    assert result.returncode != 0
    assert (
        "CACHE_URL must be a redis://, rediss:// or unix:// URL, not 'memcached://cache:11211'"
        in result.stderr
    )


def test_the_embedded_brokers_socket_url_is_read_as_redis_py_names_it():
    assert redis_url("X", "redis+socket:///data/redis.sock") == "unix:///data/redis.sock"
    assert redis_url("X", "redis+socket:///r.sock?virtual_host=3") == "unix:///r.sock?db=3"
    assert redis_url("X", "unix:///r.sock?db=1") == "unix:///r.sock?db=1"
    with pytest.raises(ImproperlyConfigured, match="X must be a redis://"):
        redis_url("X", "redis:")


def test_rates_have_production_defaults_and_are_read_strictly(monkeypatch):
    shown = manage("shell", "-c", SHOW_THROTTLE, env=production_env()).stdout.splitlines()[-1]
    assert shown == (
        "{'user': '1200/min', 'token': '600/min', 'anon': '60/min', 'rollback': '120/min', "
        "'alert': '600/min'}"
    )
    assert parse_rate("R", "600/min") == (600, 60)
    assert parse_rate("R", "10/s") == (10, 1)
    assert parse_rate("R", "5000/hour") == (5000, 3600)
    for wrong in ["fast", "0/min", "-1/min", "10/fortnight", "10", "1.5/s", "\u0661\u0660/min"]:
        with pytest.raises(ImproperlyConfigured, match=r"R must be a rate such as 600/min"):
            parse_rate("R", wrong)
    result = manage("check", env=production_env(ALERT_RATE_TOKEN="lots"))
    assert result.returncode != 0
    assert "ALERT_RATE_TOKEN must be a rate such as 600/min" in result.stderr
    assert "not 'lots'" in result.stderr
    monkeypatch.setenv("API_RATE_USER", " 30/min ")
    assert env_rate("API_RATE_USER", default="1200/min") == "30/min"

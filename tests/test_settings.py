"""Settings come from the environment, strictly; production defaults are the safe ones."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_secret

ROOT = Path(__file__).resolve().parent.parent


def _production_env(**extra: str) -> dict[str, str]:
    development_only = {
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    }
    env = {key: value for key, value in os.environ.items() if key not in development_only}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="failsafe.example.com",
        DATABASE_URL="postgres://failsafe@db.internal:5432/failsafe",
    )
    env.update(extra)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_unless_turned_on():
    result = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)",
        env=_production_env(),
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_a_missing_secret_key_stops_start_up():
    env = _production_env()
    del env["SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


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
    on = _manage("shell", "-c", show, env=_production_env())
    off = _manage("shell", "-c", show, env=_production_env(DB_PREPARED_STATEMENTS="false"))
    assert "'prepare_threshold': 5" in on.stdout, on.stderr
    assert "prepare_threshold" not in off.stdout and off.returncode == 0, off.stderr

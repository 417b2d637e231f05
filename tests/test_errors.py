"""An unreachable database answers 503 with Retry-After (config/errors.py), a bug still 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from config.errors import RETRY_AFTER_SECONDS, server_error

UNREACHABLE = OperationalError('connection to server on socket "/pg/.s.PGSQL.5432" failed')


def _answer_while_raising(error: Exception, request):  # type: ignore[no-untyped-def]
    try:
        raise error
    except Exception:
        return server_error(request)


@pytest.mark.parametrize("error", [UNREACHABLE, InterfaceError("connection already closed")])
def test_it_answers_503_with_retry_after_when_the_database_is_unreachable(rf, error):
    response = _answer_while_raising(error, rf.get("/releases/"))

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert b"Unavailable for a moment" in response.content


def test_it_answers_the_api_in_json(rf):
    response = _answer_while_raising(UNREACHABLE, rf.get("/api/incidents/"))

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "database is unavailable" in json.loads(response.content)["detail"]


def test_it_still_answers_500_for_a_bug(rf):
    response = _answer_while_raising(KeyError("oops"), rf.get("/releases/"))

    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.django_db
def test_it_answers_503_when_the_session_cannot_be_read(viewer):
    # The first query of a page, in the middleware (before any view runs), is the session's.
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    with mock.patch.object(SessionStore, "load", side_effect=UNREACHABLE):
        page = client.get("/releases/")
        api = client.get("/api/incidents/")

    assert page.status_code == 503
    assert b"Unavailable for a moment" in page.content
    assert api.status_code == 503
    assert api["Retry-After"] == str(RETRY_AFTER_SECONDS)


# A pool of one connection, held by the main thread: a request on another thread waits
# DB_POOL_TIMEOUT (1 s) for it, then gets its answer. Prints status, Retry-After and body.
BUSY_POOL = """
import json
import threading

import django

django.setup()
from django.db import connection
from django.test import Client

connection.ensure_connection()  # the pool's only connection, held until the end
answers = []


def ask(path):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a-session-to-look-up-in-the-database"
    response = client.get(path, HTTP_AUTHORIZATION="Basic bm9ib2R5OnNlY3JldA==")  # nobody
    answers.append([response.status_code, response.get("Retry-After"), response.content.decode()])


for path in ("/api/systems/", "/releases/"):
    thread = threading.Thread(target=ask, args=(path,))
    thread.start()
    thread.join()
print(json.dumps(answers))
"""


@pytest.mark.django_db
def test_a_request_that_waits_too_long_for_a_pooled_connection_gets_503():
    # Every connection of the process's pool busy for DB_POOL_TIMEOUT: a burst beyond what the
    # database may serve at once is told to come back (psycopg_pool.PoolTimeout), never a 500.
    from tests.conftest import worker_database_url

    env = dict(
        os.environ, DATABASE_URL=worker_database_url(), ALLOWED_HOSTS="testserver",
        DB_POOL_MIN_SIZE="0", DB_POOL_MAX_SIZE="1", DB_POOL_TIMEOUT="1", LOG_LEVEL="CRITICAL",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", BUSY_POOL], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    [(api, api_retry, api_body), (page, page_retry, page_body)] = json.loads(result.stdout)
    assert (api, api_retry) == (503, str(RETRY_AFTER_SECONDS))
    assert json.loads(api_body) == {"detail": "The database is busy. Try again shortly."}
    assert (page, page_retry) == (503, str(RETRY_AFTER_SECONDS))
    assert "Unavailable for a moment" in page_body

"""An unreachable database answers 503 with Retry-After (config/errors.py), a bug still 500."""

from __future__ import annotations

import json
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

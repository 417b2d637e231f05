"""Production logs: one JSON object a line, with the request id and the actor."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import time

import pytest

from governance import queries


@pytest.fixture
def production_log(settings):
    """The root logger configured from LOGGING as production builds it, writing to a buffer."""
    assert settings.LOG_FORMAT == "json"  # the default without DEBUG, as in production
    logging.config.dictConfig(settings.LOGGING)
    (console,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    buffer = io.StringIO()
    console.setStream(buffer)  # type: ignore[attr-defined]

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    logging.config.dictConfig(settings.LOGGING)  # back to stderr


@pytest.mark.django_db
def test_a_line_logged_by_a_view_names_the_request_and_the_actor(
    client, viewer, production_log, monkeypatch
):
    original = queries.systems_for

    def systems_for(user):  # type: ignore[no-untyped-def]
        logging.getLogger("governance.views").info("listing systems")
        return original(user)

    monkeypatch.setattr(queries, "systems_for", systems_for)
    client.force_login(viewer)
    response = client.get("/systems/", HTTP_X_REQUEST_ID="trace-0123456789")

    assert response.status_code == 200
    (line,) = [line for line in production_log() if line["message"] == "listing systems"]
    assert line["request_id"] == "trace-0123456789" == response["X-Request-ID"]
    assert line["actor"] == "vic"
    assert line["level"] == "INFO"
    assert line["logger"] == "governance.views"
    assert line["timestamp"].endswith("+00:00")


@pytest.mark.django_db
def test_djangos_own_lines_about_a_response_carry_them_too(client, outsider, production_log):
    client.force_login(outsider)
    response = client.get("/systems/new/")  # outsiders may not register systems

    assert response.status_code == 403
    (line,) = [line for line in production_log() if line["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["actor"] == "charlie"


@pytest.mark.django_db
def test_anonymous_requests_have_a_request_id_but_no_actor(client, production_log):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="anonymous-request-1")
    logging.getLogger("failsafe.test").warning("outside any request")

    assert response.status_code == 404
    (not_found,) = [x for x in production_log() if x["request_id"] == "anonymous-request-1"]
    assert not_found["logger"] == "django.request" and not_found["actor"] == ""
    outside = production_log()[-1]
    assert (outside["request_id"], outside["actor"]) == ("", "")


def test_the_text_format_carries_them_as_well(settings):
    formatter = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    from governance.logs import ContextFilter

    ContextFilter().filter(record)
    assert "[ ] hello" in formatter.format(record)


@pytest.mark.django_db(transaction=True)
def test_a_task_carries_the_request_id_of_the_request_that_enqueued_it(
    celery_worker, artifacts_dir, successor, production, rollback_owner
):
    from governance.audit.context import current_request_id
    from governance.models import AuditEvent
    from releases import rollbacks
    from releases.models import RollbackRequest, RollbackStatus

    token = current_request_id.set("press-0123456789abcdef")  # as the middleware does
    try:
        request, _ = rollbacks.request_rollback(
            actor=rollback_owner, environment=production, reason="Review rate tripled"
        )  # enqueued on commit: the worker runs it
    finally:
        current_request_id.reset(token)
    deadline = time.monotonic() + 30
    while RollbackRequest.objects.get(pk=request.pk).status != RollbackStatus.SUCCEEDED:
        assert time.monotonic() < deadline, "the worker did not run the rollback"
        time.sleep(0.1)

    # The worker's audit events and its JSON log lines name the press's request.
    done = AuditEvent.objects.get(action="rollback.succeeded", object_id=str(request.pk))
    assert done.request_id == "press-0123456789abcdef"
    worker_lines = [
        json.loads(line)
        for line in (artifacts_dir / "celery-worker.log").read_text().splitlines()
        if line.startswith("{") and "press-0123456789abcdef" in line
    ]
    assert worker_lines, "no JSON line of the worker names the request"
    assert all(line["task_name"].startswith("releases.") for line in worker_lines)
    assert all(line["task_id"] for line in worker_lines)

"""Rollback notices: who gets the email, what it and the Slack message say, and that a mail
server or Slack that fails never fails, nor holds up, the rollback."""

from __future__ import annotations

import json
import re
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_string
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from kombu.exceptions import OperationalError

from governance import services as governance
from governance.roles import Role
from incidents import services as incidents
from incidents.models import IncidentRollback
from releases import notifications, rollbacks
from releases.models import Deployment, RollbackPlan, RollbackRequest, RollbackStatus
from releases.notification_tasks import (
    NOTICE_BACKOFF_MAX_SECONDS,
    NOTICE_BACKOFF_SECONDS,
    NOTICE_MAX_RETRIES,
    email_rollback_notice,
    post_rollback_to_slack,
)
from releases.retry import retry_countdown
from tests.factories import UserFactory

SITE = "https://failsafe.example.com"
ATTEMPTS = 1 + NOTICE_MAX_RETRIES  # the first try and every retry


# --- a Slack-compatible incoming webhook and a mail server that turns everyone away ----------


@dataclass
class Post:
    path: str
    content_type: str
    body: bytes
    received_at: float  # time.time()

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class SlackHook:
    """A real HTTP receiver on 127.0.0.1 standing for Slack's incoming webhook: it records
    every POST and answers 200 "ok" as Slack does, or what `fail_next` says."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._posts: list[Post] = []
        self._failures: list[tuple[int, str, dict[str, str]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    hook._posts.append(
                        Post(self.path, self.headers.get("Content-Type", ""), body, time.time())
                    )
                    status, text, headers = (
                        hook._failures.pop(0) if hook._failures else (200, "ok", {})
                    )
                    hook._lock.notify_all()
                raw = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T0/B0/secret"

    @property
    def posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)

    def fail_next(
        self,
        n: int,
        status: int = 500,
        text: str = "internal_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            self._failures = [(status, text, headers or {})] * n

    def wait_for(self, n: int, timeout: float = 30) -> list[Post]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._posts) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._posts)} posts, not {n}, in {timeout} s")
                self._lock.wait(remaining)
            return list(self._posts)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class RefusingMailServer(socketserver.ThreadingTCPServer):
    """A real SMTP listener that greets every connection with 421 and hangs up."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.connections = 0
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server.connections += 1
                self.request.sendall(b"421 4.3.2 Service not available, try again later\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def slack(settings) -> Iterator[SlackHook]:
    hook = SlackHook()
    settings.ROLLBACK_SLACK_WEBHOOK_URL = hook.url
    yield hook
    hook.stop()


@pytest.fixture(autouse=True)
def site(settings) -> None:
    settings.SITE_URL = SITE


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in this process when sent (a rollback too: the local backend is instant);
    retries run at once instead of after their backoff."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def press(actor, environment, reason="Review rate tripled"):  # type: ignore[no-untyped-def]
    request, _ = rollbacks.request_rollback(actor=actor, environment=environment, reason=reason)
    return request


def events(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [message.extra_headers["X-Failsafe-Event"] for message in messages]


# --- who is told -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_emails_the_plan_owners_and_those_who_may_roll_back_once_each(
    django_capture_on_commit_callbacks, eager, fraud, registrar, successor, production,
    rollback_owner, oncall_lead, responder,
):  # fmt: skip
    def holder(username: str, role: Role, **fields: Any):  # type: ignore[no-untyped-def]
        user = UserFactory(username=username, **fields)
        governance.grant_role(actor=registrar, system=fraud, role=role, user=user)
        return user

    holder("nomail", Role.ROLLBACK_OWNER, email="")  # no address: skipped
    holder("robtwin", Role.ONCALL_LEAD, email="ROB@example.com")  # rob's address again
    gone = holder("gone", Role.ONCALL_LEAD)
    gone.is_active = False  # left the company; the grant outlives the account
    gone.save(update_fields=["is_active"])
    former = UserFactory(username="former")  # named in the plan, holds no role any more
    RollbackPlan.objects.get(release=successor).owners.add(former)

    with django_capture_on_commit_callbacks(execute=True):
        request = press(rollback_owner, production)

    assert events(mail.outbox) == ["requested", "succeeded"]
    for message in mail.outbox:
        assert sorted(message.to) == ["olga@example.com", "rob@example.com"]
    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.SUCCEEDED
    assert responder.email not in mail.outbox[0].to  # may respond, may not roll back


@pytest.mark.django_db
def test_the_request_email_says_what_who_why_and_where_to_look(
    django_capture_on_commit_callbacks, eager, successor, live_release, production,
    rollback_owner,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        request = press(rollback_owner, production)

    requested = mail.outbox[0]
    assert requested.subject == (
        "[Failsafe] Rollback of Production requested: 2.1.0 → 2.0.0 (Card fraud screening)"
    )
    body = requested.body
    # People read the name they know; the address line names the account too.
    assert body.startswith(
        "Roll back Production from 2.1.0 to 2.0.0 requested by "
        f"{rollback_owner.get_full_name()}: Review rate tripled\n"
    )
    assert "From:          2.1.0 (Fraud model 2.1.0)\n" in body
    assert "To:            2.0.0 (Fraud model 2.0.0)\n" in body
    assert f"Requested by:  {rollback_owner.get_full_name()} (rob)\n" in body
    assert "Reason:        Review rate tripled\n" in body
    assert f"Open the environments: {SITE}/systems/fraud/environments/\n" in body
    assert f"The rollback's record: {SITE}/api/rollbacks/{request.pk}/\n" in body
    assert requested.extra_headers["X-Failsafe-Rollback"] == str(request.pk)
    assert requested.from_email == "Failsafe <failsafe@localhost>"


@pytest.mark.django_db
def test_the_success_email_says_the_target_is_verified_live(
    django_capture_on_commit_callbacks, eager, successor, production, rollback_owner
):
    with django_capture_on_commit_callbacks(execute=True):
        press(rollback_owner, production)

    succeeded = mail.outbox[1]
    assert succeeded.subject == (
        "[Failsafe] Rollback of Production verified: 2.0.0 is live (Card fraud screening)"
    )
    assert succeeded.body.startswith("Verified: 2.0.0 is live in Production (after 1 attempt).\n")


@pytest.mark.django_db
def test_the_failure_email_says_why_the_rollback_failed(
    django_capture_on_commit_callbacks, eager, webhook_receiver, successor, production,
    rollback_owner,
):  # fmt: skip
    webhook_receiver.configure(production)
    webhook_receiver.set_live(successor.version)
    webhook_receiver.fail_next(1, status=400, message="unknown model fraud-2.0.0")

    with django_capture_on_commit_callbacks(execute=True):
        request = press(rollback_owner, production)

    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.FAILED
    assert events(mail.outbox) == ["requested", "failed"]
    failed = mail.outbox[1]
    assert failed.subject == (
        "[Failsafe] Rollback of Production to 2.0.0 failed (Card fraud screening)"
    )
    assert failed.body.startswith("Failed: ")
    assert "\nError:         " in failed.body and "unknown model fraud-2.0.0" in failed.body


@pytest.mark.django_db
def test_a_proposal_tells_the_rollback_owners_one_waits_and_a_dismissal_tells_nobody(
    django_capture_on_commit_callbacks, eager, successor, production, rollback_owner
):
    with django_capture_on_commit_callbacks(execute=True):
        request, _ = rollbacks.request_rollback(
            actor=None, environment=production, reason="review_rate 3.1 > 2.5 for 15 min",
            trigger={"metric": "review_rate", "value": 3.1}, propose=True,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        rollbacks.dismiss_rollback(actor=rollback_owner, request=request, reason="A blip.")

    assert events(mail.outbox) == ["proposed"]
    proposed = mail.outbox[0]
    assert proposed.subject == (
        "[Failsafe] Rollback of Production proposed: 2.1.0 → 2.0.0 waits for a rollback owner "
        "(Card fraud screening)"
    )
    assert "Requested by:  the rollback plan\n" in proposed.body
    assert "rob@example.com" in proposed.to


@pytest.mark.django_db
def test_a_rollback_from_an_incident_links_its_war_room(
    monkeypatch, django_capture_on_commit_callbacks, eager, slack, fraud, successor, production,
    rollback_owner, oncall_lead,
):  # fmt: skip
    # What the incidents app registers: releases itself knows nothing of incidents.
    def war_room(request: RollbackRequest) -> notifications.Link | None:
        link = IncidentRollback.objects.filter(request=request).select_related("incident").first()
        if link is None:
            return None
        return notifications.Link("Open the war room", link.incident.get_absolute_url())

    monkeypatch.setattr(notifications, "_link_providers", [])
    notifications.link_rollbacks(war_room)
    incident = incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        incidents.roll_back_incident(actor=oncall_lead, incident=incident, reason="Tripled")

    assert f"Open the war room: {SITE}/incidents/{incident.pk}/\n" in mail.outbox[0].body
    button = slack.posts[0].json["blocks"][2]["elements"][0]
    assert button["text"]["text"] == "Open the war room"
    assert button["url"] == f"{SITE}/incidents/{incident.pk}/"


# --- the Slack message ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_slack_message_reaches_the_webhook_in_slacks_format(
    django_capture_on_commit_callbacks, eager, slack, successor, production, rollback_owner
):
    with django_capture_on_commit_callbacks(execute=True):
        press(rollback_owner, production, reason="Review rate <!channel> & tripled")

    requested, succeeded = slack.posts
    assert requested.path == "/services/T0/B0/secret"
    assert requested.content_type == "application/json"
    payload = requested.json
    assert payload["text"] == (
        "Rollback of Production requested: 2.1.0 → 2.0.0 (Card fraud screening)"
    )
    section, context, actions = payload["blocks"]
    assert section == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":rewind: *Rollback of Production requested: 2.1.0 → 2.0.0*\n"
            "Roll back Production from 2.1.0 to 2.0.0 requested by "
            f"{rollback_owner.get_full_name()}: "
            "Review rate &lt;!channel&gt; &amp; tripled",  # shown as written: no @channel
        },
    }
    assert context == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"Card fraud screening · Production · 2.1.0 → 2.0.0 · requested by "
                f"{rollback_owner.get_full_name()} (rob)",
            }
        ],
    }
    assert actions == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open the environments"},
                "url": f"{SITE}/systems/fraud/environments/",
            }
        ],
    }
    assert succeeded.json["text"] == (
        "Rollback of Production verified: 2.0.0 is live (Card fraud screening)"
    )
    assert succeeded.json["blocks"][0]["text"]["text"].startswith(":white_check_mark: ")


@pytest.mark.django_db
def test_nothing_goes_to_slack_without_a_webhook(
    settings, django_capture_on_commit_callbacks, eager, slack, successor, production,
    rollback_owner,
):  # fmt: skip
    settings.ROLLBACK_SLACK_WEBHOOK_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        request = press(rollback_owner, production)

    assert slack.posts == []
    assert events(mail.outbox) == ["requested", "succeeded"]  # email is not affected
    # A task sent while the webhook was set, run after it was removed, sends nothing either.
    assert post_rollback_to_slack.apply((request.pk, "requested", "x")).result == "off"
    assert slack.posts == []


@pytest.mark.django_db
def test_slack_refusing_for_good_is_not_retried_and_a_rate_limit_is(
    slack, successor, production, rollback_owner
):
    request = press(rollback_owner, production)

    slack.fail_next(1, status=404, text="no_service")  # the webhook was revoked
    assert post_rollback_to_slack.apply((request.pk, "requested", "x")).result == "refused"
    assert len(slack.posts) == 1

    slack.fail_next(2, status=429, text="rate_limited")
    assert post_rollback_to_slack.apply((request.pk, "requested", "x")).result == "sent"
    assert len(slack.posts) == 1 + 3


# --- failures of the notices are never the rollback's --------------------------------------------


@pytest.mark.django_db
def test_a_mail_server_and_slack_that_keep_failing_never_fail_the_rollback(
    settings, django_capture_on_commit_callbacks, eager, slack, successor, live_release,
    production, rollback_owner,
):  # fmt: skip
    refusing = RefusingMailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", refusing.port
    slack.fail_next(1000, status=500)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            request = press(rollback_owner, production)
    finally:
        refusing.shutdown()
        refusing.server_close()

    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.SUCCEEDED
    live = Deployment.objects.get(environment=production, ended_at__isnull=True)
    assert live.release == live_release
    # Two steps, each retried a bounded number of times on each channel, then given up.
    assert refusing.connections == 2 * ATTEMPTS
    assert len(slack.posts) == 2 * ATTEMPTS


@pytest.mark.django_db
def test_the_task_gives_up_after_its_retries_with_the_error(
    settings, slack, successor, production, rollback_owner
):
    request = press(rollback_owner, production)
    refusing = RefusingMailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", refusing.port
    slack.fail_next(1000, status=503)
    try:
        emailed = email_rollback_notice.apply((request.pk, "requested", "x"))
    finally:
        refusing.shutdown()
        refusing.server_close()
    posted = post_rollback_to_slack.apply((request.pk, "requested", "x"))

    assert emailed.failed() and isinstance(emailed.result, OSError)
    assert "421" in str(emailed.result)
    assert refusing.connections == ATTEMPTS
    assert posted.failed() and isinstance(posted.result, notifications.SlackUnavailable)
    assert "503" in str(posted.result)
    assert len(slack.posts) == ATTEMPTS


@pytest.mark.django_db
def test_a_broker_that_is_down_costs_the_notices_not_the_rollback(
    monkeypatch, caplog, django_capture_on_commit_callbacks, eager, slack, successor,
    production, rollback_owner,
):  # fmt: skip
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for task in (email_rollback_notice, post_rollback_to_slack):
        monkeypatch.setattr(task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        request = press(rollback_owner, production)

    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.SUCCEEDED
    assert mail.outbox == [] and slack.posts == []
    assert "requested notices not sent (broker unavailable)" in caplog.text


@pytest.mark.django_db
def test_an_error_while_sending_notices_is_logged_not_raised_at_the_rollback(
    monkeypatch, caplog, django_capture_on_commit_callbacks, successor, production,
    rollback_owner,
):  # fmt: skip
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug in the notices")

    monkeypatch.setattr(notifications, "send_notices", broken)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        request = press(rollback_owner, production)

    assert len(callbacks) == 2  # the notices, then the rollback's enqueue: it still ran
    assert RollbackRequest.objects.get(pk=request.pk).enqueued_at is not None
    assert "a bug in the notices" in caplog.text


@pytest.mark.django_db
def test_a_notice_for_a_rollback_that_is_gone_is_dropped(slack):
    assert email_rollback_notice.apply((987654, "requested", "x")).result == "missing"
    assert post_rollback_to_slack.apply((987654, "requested", "x")).result == "missing"
    assert mail.outbox == [] and slack.posts == []


# --- a real worker -----------------------------------------------------------------------


def test_the_worker_discovers_the_notification_tasks():
    """What `celery -A config worker` imports knows both tasks (they are not in a `tasks`
    module, so this is not a given); a process of its own, so nothing here has imported them."""
    script = (
        "from config.celery import app; app.loader.import_default_modules(); "
        "print(' '.join(sorted(app.tasks)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    names = done.stdout.split()
    assert email_rollback_notice.name in names and post_rollback_to_slack.name in names


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_emails_and_posts_each_step_after_it_commits(
    settings, tmp_path, artifacts_dir, slack, successor, production, rollback_owner, oncall_lead
):
    from tests.conftest import start_worker, stop_worker

    outbox = tmp_path / "outbox"
    queues = {"ROLLBACK_QUEUE": "rollback-notify-test", "ROLLBACK_NOTIFY_QUEUE": "notify-test"}
    settings.ROLLBACK_QUEUE = queues["ROLLBACK_QUEUE"]
    settings.ROLLBACK_NOTIFY_QUEUE = queues["ROLLBACK_NOTIFY_QUEUE"]
    log = artifacts_dir / "worker-notify.log"
    worker = start_worker(
        log, queues=",".join(queues.values()), **queues,
        ROLLBACK_SLACK_WEBHOOK_URL=slack.url, EMAIL_URL=f"filemail:///{outbox}", SITE_URL=SITE,
    )  # fmt: skip
    try:
        pressed = time.time()
        request = press(rollback_owner, production)
        posts = slack.wait_for(2)
        # Stop the worker once all four notices (two steps, two channels) have finished.
        deadline = time.monotonic() + 30
        while len(re.findall(r"notification_tasks\.\w+\[[^]]+\] succeeded", log.read_text())) < 4:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
    finally:
        stop_worker(worker)

    assert RollbackRequest.objects.get(pk=request.pk).status == RollbackStatus.SUCCEEDED
    # The notices wait in the worker, leaving the rollback's first moments to the rollback.
    assert (
        min(post.received_at for post in posts) >= pressed + settings.ROLLBACK_NOTICE_DELAY_SECONDS
    )
    assert sorted(post.json["text"] for post in posts) == [
        "Rollback of Production requested: 2.1.0 → 2.0.0 (Card fraud screening)",
        "Rollback of Production verified: 2.0.0 is live (Card fraud screening)",
    ]
    emails = [_read_email(path) for path in sorted(outbox.glob("*.log"))]
    assert sorted(email["X-Failsafe-Event"] for email in emails) == ["requested", "succeeded"]
    for email in emails:
        assert sorted(email["To"].split(", ")) == ["olga@example.com", "rob@example.com"]
        assert f"{SITE}/systems/fraud/environments/" in email.get_payload(decode=True).decode()


def _read_email(path: Path):  # type: ignore[no-untyped-def]
    # The file backend writes each message, then a line of dashes.
    return message_from_string(path.read_text().split("\n" + "-" * 79)[0])


@pytest.mark.django_db
def test_slacks_rate_limit_is_waited_out_not_hammered(slack, successor, production, rollback_owner):
    request = press(rollback_owner, production)
    slack.fail_next(1, status=429, text="rate_limited", headers={"Retry-After": "30"})
    with pytest.raises(notifications.SlackUnavailable, match="429") as error:
        notifications.post_to_slack(request_id=request.pk, event="requested", message="x")
    assert error.value.retry_after == 30
    # The task's next try: not before Slack's 30 s, within the notices' bound.
    waits = [
        retry_countdown(retries=0, factor=NOTICE_BACKOFF_SECONDS,
                        most=NOTICE_BACKOFF_MAX_SECONDS, asked=error.value.retry_after)
        for _ in range(50)
    ]  # fmt: skip
    assert all(30 <= wait <= NOTICE_BACKOFF_MAX_SECONDS for wait in waits)
    assert notifications.post_to_slack(request_id=request.pk, event="requested", message="x") == (
        "sent"
    )

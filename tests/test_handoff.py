"""Every task the product sends goes through the hand-off (config/handoff.py), so no request
ever waits on the broker. tests/releases/test_rollback_broker_faults.py shows the effect
end to end; this keeps a new `.delay()` from slipping past it."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import redis
from celery import Celery
from celery.signals import before_task_publish

from config import handoff
from config.celery import REQUEST_ID_HEADER
from config.embedded import EmbeddedRedis
from governance.audit.context import current_request_id
from releases.tasks import execute_rollback, sweep_rollbacks

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("config", "governance", "releases", "incidents")
SENDS = re.compile(r"\.(delay|apply_async|send_task)\(")


def test_no_product_code_sends_a_task_but_the_handoff():
    senders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "config" / "handoff.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SENDS.search(line)
    ]
    assert senders == [], "send tasks with config.handoff.send, never from a request"


def test_a_task_carries_the_request_id_of_the_request_that_handed_it_over():
    # The thread sends it, in the context of the request that handed it over.
    seen: list[dict[str, str]] = []

    def capture(headers: dict[str, str] | None = None, **kwargs: object) -> None:
        seen.append(dict(headers or {}))

    before_task_publish.connect(capture, weak=False)
    token = current_request_id.set("press-0123")
    try:
        handoff.send(sweep_rollbacks, (), queue="handoff-test", label="a test task")
        assert handoff.wait_until_sent(10)
    finally:
        current_request_id.reset(token)
        before_task_publish.disconnect(capture)
    assert seen and seen[-1][REQUEST_ID_HEADER] == "press-0123"


def test_a_task_no_broker_could_take_is_dropped_not_retried(caplog):
    handoff.send(execute_rollback, (1, 2, 3), queue="handoff-test", label="a wrong call")
    assert handoff.wait_until_sent(5)
    assert "a wrong call dropped: it cannot be sent" in caplog.text


def test_the_sender_waits_out_a_broker_that_never_answers_then_delivers_in_order(
    tmp_path, monkeypatch
):
    # A listener on the broker's socket that accepts and never answers; then a real Redis.
    monkeypatch.delenv("CELERY_BROKER_URL")  # Celery prefers it to the app's own broker
    path = EmbeddedRedis.socket_for(tmp_path / "broker")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(path))
    silent.listen(16)
    app = Celery("handoff-test", broker=f"redis+socket://{path}")
    sender = handoff._Sender(app)

    started = time.monotonic()
    for n in range(3):
        sender.put(handoff._Task(execute_rollback, (n,), {"queue": "handoff-test"}, f"task {n}"))
    assert time.monotonic() - started < 0.1  # handing over never waits on the broker
    assert not sender.drained(3)  # still trying: nothing answers
    assert sender.waiting_for() >= 3  # what the war room's banner reads

    silent.close()
    path.unlink()
    broker = EmbeddedRedis.start(tmp_path / "broker", persist=False)
    try:
        assert sender.drained(10)
        client = redis.Redis(unix_socket_path=str(path))
        bodies = [
            json.loads(m)["headers"]["argsrepr"] for m in client.lrange("handoff-test", 0, -1)
        ]
    finally:
        broker.stop()
    assert sender.waiting_for() == 0
    # LPUSH: the newest first. A try that timed out against the listener went nowhere.
    assert bodies == ["(2,)", "(1,)", "(0,)"]

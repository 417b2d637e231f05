"""A real Alertmanager delivers its version-4 webhook to the live test server.

Debian's `prometheus-alertmanager` (`make alertmanager-deps`) runs on loopback with
clustering off, routing to /api/alerts/alertmanager/ with an alert token as its bearer
credentials. A missing binary fails the test with that instruction; it never skips.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from incidents.models import Alert, Incident
from incidents.services.alert_tokens import create_alert_token

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
WEBHOOK_PATH = "/api/alerts/alertmanager/"
START_TIMEOUT = 15  # seconds for Alertmanager to answer /-/ready
DELIVERY_TIMEOUT = 20  # seconds for a webhook to show up in the database
SETTLE = 2.5  # seconds (over two group intervals) in which no further delivery may arrive
HTTP_TIMEOUT = 5
# Loopback only, and never through a proxy the environment may name.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _route(webhook_configs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "failsafe",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "failsafe", "webhook_configs": webhook_configs}],
    }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Alertmanager:
    process: subprocess.Popen[bytes]
    url: str
    config: Path
    log: Path

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with _opener.open(request, timeout=HTTP_TIMEOUT) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def deliver_to(self, webhook_url: str, token: str, **webhook: Any) -> None:
        """Route every alert to `webhook_url` with `token` as the bearer credentials (and
        `webhook`'s further settings, e.g. max_alerts)."""
        config = _route(
            [
                {
                    "url": webhook_url,
                    "send_resolved": True,
                    "http_config": {
                        "authorization": {"type": "Bearer", "credentials": token},
                    },
                    **webhook,
                }
            ]
        )
        self.config.write_text(json.dumps(config, indent=2))  # JSON is YAML
        status, body = self._request("POST", "/-/reload")
        assert status == 200, f"Alertmanager refused the config ({status}): {body}\n{self.logs()}"

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        status, body = self._request("POST", "/api/v2/alerts", alerts)
        assert status == 200, f"Alertmanager refused the alerts ({status}): {body}\n{self.logs()}"


@pytest.fixture(scope="module")
def alertmanager(live_server, tmp_path_factory) -> Iterator[Alertmanager]:  # type: ignore[no-untyped-def]
    """One Alertmanager process for the module, on a free loopback port, clustering off."""
    if not ALERTMANAGER.exists():
        pytest.fail(
            f"The live alert test needs Debian's Alertmanager at {ALERTMANAGER}, and it is "
            "missing. Install it with `make alertmanager-deps` (apt-get install "
            "prometheus-alertmanager, as root).",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("alertmanager")
    config = directory / "alertmanager.yml"
    config.write_text(json.dumps(_route([]), indent=2))  # a receiver that drops everything
    log = directory / "alertmanager.log"
    port = _free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    manager = Alertmanager(process, f"http://127.0.0.1:{port}", config, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Alertmanager exited ({process.returncode}):\n{manager.logs()}")
            try:
                if manager._request("GET", "/-/ready")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Alertmanager was not ready in {START_TIMEOUT} s:\n{manager.logs()}")
            time.sleep(0.1)
        yield manager
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], what: str, manager: Alertmanager) -> Any:
    """Poll the database until `condition()` is truthy, for at most DELIVERY_TIMEOUT."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} within {DELIVERY_TIMEOUT} s. Alerts stored: "
                f"{list(Alert.objects.values_list('status', 'incident_id'))}. "
                f"Alertmanager's log:\n{manager.logs()}"
            )
        time.sleep(0.1)
    return result


@pytest.mark.django_db(transaction=True)
def test_alertmanager_fires_then_resolves_one_incident_on_the_live_release(
    alertmanager, live_server, owner, fraud, production, live_release
):
    _, secret = create_alert_token(actor=owner, system=fraud, name="Alertmanager")
    alertmanager.deliver_to(live_server.url + WEBHOOK_PATH, secret)

    starts_at = datetime.now(UTC)  # after live_release went live
    alert = {
        "labels": {
            "alertname": "ReviewRateHigh",
            "severity": "critical",
            "environment": "production",
        },
        "annotations": {"summary": "Review rate 7.2% (threshold 2.5%)"},
        "startsAt": _rfc3339(starts_at),
        "endsAt": _rfc3339(starts_at + timedelta(hours=1)),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    alertmanager.post_alerts([alert])
    incident = wait_for(
        lambda: Incident.objects.filter(system=fraud).first(),
        "Alertmanager's firing webhook declared no incident",
        alertmanager,
    )

    alertmanager.post_alerts([{**alert, "endsAt": _rfc3339(datetime.now(UTC))}])
    wait_for(
        lambda: incident.timeline.filter(kind="alert", data__status="resolved").exists(),
        "Alertmanager's resolved webhook reached no incident",
        alertmanager,
    )
    time.sleep(SETTLE)  # a duplicate delivery would land in here

    incident = Incident.objects.get()
    assert incident.system == fraud
    assert incident.environment == production
    assert incident.live_release == live_release
    assert incident.source == "alert" and incident.severity == "sev1"
    entries = list(incident.timeline.filter(kind="alert"))
    assert [e.data["status"] for e in entries] == ["firing", "resolved"]
    assert [e.data["labels"]["alertname"] for e in entries] == ["ReviewRateHigh"] * 2
    alerts = Alert.objects.order_by("received_at", "id")
    assert [(a.source, a.status, a.incident_id) for a in alerts] == [
        ("alertmanager", "firing", incident.pk),
        ("alertmanager", "resolved", incident.pk),
    ]


@pytest.mark.django_db(transaction=True)
def test_alertmanager_sends_a_group_as_one_incident_truncated_to_its_max_alerts(
    alertmanager, live_server, owner, fraud, production
):
    _, secret = create_alert_token(actor=owner, system=fraud, name="Alertmanager")
    alertmanager.deliver_to(live_server.url + WEBHOOK_PATH, secret, max_alerts=3)

    starts_at = datetime.now(UTC)
    alertmanager.post_alerts(
        [
            {
                "labels": {
                    "alertname": "NodeDown",
                    "severity": "critical",
                    "environment": "production",
                    "instance": f"node-{n}",
                },
                "annotations": {"summary": f"node-{n} is down"},
                "startsAt": _rfc3339(starts_at),
                "endsAt": _rfc3339(starts_at + timedelta(hours=1)),
            }
            for n in range(5)
        ]
    )
    incident = wait_for(
        lambda: Incident.objects.filter(
            system=fraud, timeline__data__truncated__isnull=False
        ).first(),
        "Alertmanager's notification of the group, truncated, declared no incident",
        alertmanager,
    )
    time.sleep(SETTLE)  # a further incident would land in here

    assert list(Incident.objects.filter(system=fraud)) == [incident]
    assert incident.group_key and incident.severity == "sev1"
    fingerprints = set(incident.alerts.values_list("fingerprint", flat=True))
    assert len(fingerprints) == 3  # max_alerts; the other two are counted, not sent
    assert incident.timeline.get(data__truncated=2).body.startswith("Alertmanager left 2 alerts")

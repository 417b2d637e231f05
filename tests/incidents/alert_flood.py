"""A runaway sender, in a process of its own (so that its threads take no time from the
measuring test's): THREADS threads post alerts with TOKEN to BASE's Alertmanager intake, RATE
posts a second between them (as fast as they are answered if the server is slower), until
stdin closes; then it prints how many of each status they got (JSON).

    python -m tests.incidents.alert_flood BASE TOKEN THREADS RATE
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

import httpx

BODY = json.dumps(
    {
        "version": "4",
        "status": "firing",
        "receiver": "failsafe",
        "groupKey": '{}:{alertname="Runaway"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Runaway", "severity": "info"},
                "annotations": {},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": "f100d",
            }
        ],
    }
)


def main(base: str, token: str, threads: int, rate: float) -> None:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def flood() -> None:
        every = threads / rate
        due = time.monotonic()
        with httpx.Client(base_url=base, timeout=10) as client:
            while not stop.wait(max(0.0, due - time.monotonic())):
                due += every
                status = client.post("/api/alerts/alertmanager/", content=BODY, headers=headers)
                with lock:
                    statuses[status.status_code] += 1

    workers = [threading.Thread(target=flood, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    sys.stdin.read()  # until the test closes it
    stop.set()
    for worker in workers:
        worker.join(timeout=15)
    print(json.dumps(statuses))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))

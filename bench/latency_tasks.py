"""The baseline task of bench/rollback_latency.py: a bare Celery task making one HTTP POST.

The worker loads it with `celery -A config worker -I bench.latency_tasks`. It makes its call
the way the webhook backend does (the process's httpx client, keeping its connections
alive; a signed JSON body), so the two measurements differ only by what the rollback does
around its call.

It also writes one line to the worker's log when a pool process starts any task (with the
clock to the microsecond), so the benchmark can tell the broker's and the pool's share of a
rollback's time from the task's own.
"""

import sys

if __name__ == "__main__":  # `make bench` runs every bench/*.py: this one is no benchmark
    sys.exit(0)

import json
import time

from celery import shared_task
from celery.signals import task_prerun

BENCH_HEADER = "X-Bench-Id"  # how the benchmark finds this call among the receiver's


@task_prerun.connect
def _log_start(task_id: str, task: object, **kwargs: object) -> None:
    name = getattr(task, "name", "?")
    print(f"bench: task {name}[{task_id}] started at {time.time():.6f}", flush=True)


@shared_task(name="bench.latency_tasks.ping_receiver", ignore_result=True)
def ping_receiver(url: str, secret: str, token: str) -> None:
    from releases.backends.http import http_client
    from releases.backends.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    body = json.dumps({"action": "ping", "token": token}, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": "failsafe-bench/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        BENCH_HEADER: token,
    }
    http_client().post(url, content=body, headers=headers, timeout=5)

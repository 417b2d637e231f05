"""Asking an environment's Prometheus one instant query, in bounded time and memory.

`read(environment, query)` never raises and gives up after PROMETHEUS_TIMEOUT_SECONDS (the
connection and the answer's first bytes, a half each; a body still arriving at the deadline is
cut off there), and reads at most MAX_ANSWER_BYTES. Its answer is a
`Reading` of one of three kinds, classified as the HTTP backends classify failures
(releases/backends/http.py):

    value     one number: a scalar, or an instant vector of exactly one series
    no_data   nothing to judge: an empty vector, NaN, a dead, hung or slow Prometheus, a 5xx,
              408, 425 or 429 (what a retry may answer); never a pass
    error     Prometheus refused the query (400 bad_data, 422 execution: e.g. invalid PromQL),
              another 4xx or a redirect, an address the egress policy refuses, an answer that
              is not Prometheus' JSON, or a query that returns several series or a range:
              what no retry will change

Uses the process's kept-alive HTTP client of the deployment backends (`http_client`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings

from governance.egress import EgressRefused
from releases.backends.http import MAX_MESSAGE_CHARS, http_client, is_transient

if TYPE_CHECKING:
    from releases.models import Environment

MAX_ANSWER_BYTES = 1024 * 1024
USER_AGENT = "Failsafe-analysis/1"
VALUE = "value"
NO_DATA = "no_data"
ERROR = "error"


@dataclass(frozen=True)
class Reading:
    kind: str  # VALUE, NO_DATA or ERROR
    value: Decimal | None = None
    raw: str = ""  # the value as Prometheus wrote it
    message: str = ""  # why there is no value
    duration_ms: int = 0

    @property
    def has_value(self) -> bool:
        return self.kind == VALUE


class _TooSlow(Exception):
    pass


def read(environment: Environment, query: str, *, timeout: float | None = None) -> Reading:
    """One instant query of the environment's Prometheus, at Prometheus' now."""
    timeout = float(timeout if timeout is not None else settings.PROMETHEUS_TIMEOUT_SECONDS)
    started = time.monotonic()

    def done(kind: str, message: str = "", value: Decimal | None = None, raw: str = "") -> Reading:
        elapsed = int((time.monotonic() - started) * 1000)
        return Reading(kind, value, raw, message[:MAX_MESSAGE_CHARS], elapsed)

    base = (environment.prometheus_url or "").strip().rstrip("/")
    if not base:
        return done(ERROR, f"No Prometheus is configured for {environment.name}.")
    secrets = (
        environment.prometheus_secrets if isinstance(environment.prometheus_secrets, dict) else {}
    )
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    token = secrets.get("token")
    if isinstance(token, str) and token:
        headers["Authorization"] = f"Bearer {token}"
    # Prometheus stops evaluating at its own `timeout` too; a query it cannot finish in time
    # answers 503, which is no data.
    params = {"query": query, "timeout": f"{max(int(timeout * 1000) - 200, 100)}ms"}
    try:
        status, body = _get(f"{base}/api/v1/query", params, headers, timeout, started)
    except _TooSlow:
        return done(NO_DATA, f"Prometheus did not answer within {timeout:g} s.")
    except httpx.TimeoutException:
        return done(NO_DATA, f"Prometheus did not answer within {timeout:g} s.")
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as error:
        return done(ERROR, f"The query could not be sent to Prometheus: {error}.")
    except EgressRefused as error:
        return done(ERROR, f"Prometheus was not queried: {error}.")
    except httpx.TransportError as error:
        return done(NO_DATA, f"Prometheus is unreachable: {error or type(error).__name__}.")
    payload = _json(body)
    if 200 <= status < 300:
        return _reading(payload, done)
    message = _message(payload, body)
    if is_transient(status):
        return done(NO_DATA, f"Prometheus failed the query (HTTP {status}): {message}")
    if 300 <= status < 400:
        return done(
            ERROR, f"Prometheus redirected the query (HTTP {status}); configure the final URL."
        )
    return done(ERROR, f"Prometheus refused the query (HTTP {status}): {message}")


def _get(
    url: str, params: dict[str, str], headers: dict[str, str], timeout: float, started: float
) -> tuple[int, bytes]:
    """GET within `timeout` for the whole exchange: a peer that trickles its answer is cut
    off at the deadline, and one that answers too much at MAX_ANSWER_BYTES."""
    deadline = started + timeout
    client = http_client(True)
    # Half the bound for the connection, half for each read: a peer that connects and never
    # answers is dropped after the whole bound, one that trickles at the deadline.
    with client.stream(
        "GET", url, params=params, headers=headers, timeout=httpx.Timeout(timeout / 2)
    ) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                break
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _TooSlow
        return response.status_code, b"".join(chunks)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _message(payload: Any, body: bytes) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        kind = payload.get("errorType")
        return f"{kind}: {payload['error']}" if isinstance(kind, str) else payload["error"]
    text = body.decode("utf-8", errors="replace").strip()
    return text[:MAX_MESSAGE_CHARS] or "no message"


def _reading(payload: Any, done: Any) -> Reading:
    if not isinstance(payload, dict) or payload.get("status") != "success":
        return done(ERROR, "Prometheus answered with something that is not its query JSON.")
    data = payload.get("data")
    if not isinstance(data, dict):
        return done(ERROR, "Prometheus' answer holds no data.")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        sample = result
    elif kind == "vector" and isinstance(result, list):
        if not result:
            return done(NO_DATA, "The query returned no series.")
        if len(result) > 1:
            return done(
                ERROR,
                f"The query returned {len(result)} series; aggregate them to one "
                "(e.g. with max(…) or sum(…)).",
            )
        sample = result[0].get("value") if isinstance(result[0], dict) else None
    else:
        return done(
            ERROR,
            f"The query returned a {kind}; it must return one number (a scalar, or "
            "an instant vector of one series).",
        )
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        return done(ERROR, "Prometheus' sample is not [time, value].")
    raw = sample[1]
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return done(ERROR, f"Prometheus' value {raw[:64]!r} is not a number.")
    if value.is_nan():
        return done(NO_DATA, "The query returned NaN (e.g. a ratio over no requests).", raw=raw)
    return done(VALUE, value=value, raw=raw[:64])

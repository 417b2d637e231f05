"""The signed-webhook backend: every deploy, rollback and status read is a signed HTTP request.

Configuration, per environment:

    backend_config  = {"url": "https://deploy.example.com/deploy",
                       "status_url": "https://deploy.example.com/status",
                       "timeout_seconds": 5}            # optional, per connect/read/write
    backend_secrets = {"signing_secret": "…"}           # encrypted at rest

Deploy and rollback POST a JSON body to `url`; status GETs `status_url`. A rollback's body
also says why, on whose word and for which incident (`"rollback": {"reason",
"requested_by", "confirmed_by", "incident", "incident_title", "incident_url", "request_id",
"drill"}`); a deploy's has `"rollback": null`. A rollout's controls POST the same body with
`"action": "pause" | "resume" | "abort"`, `"stage": null`, `"traffic_percent": null` (the
receiver holds, resumes or aborts the release's rollout where it stands; an abort sends the
candidate's traffic back to the stable release) and, for an abort, the typed `"reason"`.
Each request carries `X-Failsafe-Timestamp` (unix seconds) and `X-Failsafe-Signature:
v1=<hex>`, the HMAC-SHA256 of `f"{timestamp}.{raw body}"` with the signing secret (GETs
sign an empty body). Deploy and rollback also carry `Idempotency-Key`: a retried task sends
the same key, and the receiver must answer a key it has already applied with its original
result instead of applying it again.

How answers are read:

    2xx                         accepted; the status code and any JSON answer are kept
    409                         transient: a request with this key is still being processed
                                (IETF idempotency-key draft); retrying later gets its result.
                                Never taken as success: we cannot know the first one succeeds.
    408, 425, 429, 5xx          transient (retried with backoff), as are timeouts and
                                connection errors (the receiver may have applied the request
                                anyway; the retry's idempotency key makes that safe)
    3xx                         permanent: redirects are not followed; configure the final URL
    other 4xx                   permanent, with the receiver's message

A transient answer's `Retry-After` is kept on the error (releases/backends/http.py, which
the MLflow and Argo backends share).

`sign` and `verify` are pure functions so receivers (and the tests) can check requests with
the same code. This module imports nothing from Django at import time, so a receiver script
can use them without settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from releases.backends.base import BackendError, BackendResult, BackendStatus, RollbackContext
from releases.backends.http import (
    MAX_MESSAGE_CHARS,
    TRANSIENT_STATUSES,
    HttpBackend,
    json_of,
    summary,
)

if TYPE_CHECKING:
    from releases.models import Environment, Release

SIGNATURE_HEADER = "X-Failsafe-Signature"
TIMESTAMP_HEADER = "X-Failsafe-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"  # optional: a receiver may flag an answer as a replay
SIGNATURE_SCHEME = "v1"
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_TOLERANCE_SECONDS = 300
# An answer larger than this is not stored in the rollout step's backend_response.
MAX_KEPT_RESPONSE_BYTES = 64 * 1024

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Failsafe-Signature` value for a request: `v1=` and the hex HMAC-SHA256."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: int | str | None,
    body: bytes,
    signature: str | None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True when `signature` signs `timestamp` and `body` with `secret`, and is fresh.

    A timestamp further than `tolerance_seconds` from `now` (either way) is refused, so a
    captured request cannot be replayed later. The comparison takes constant time.
    """
    if timestamp is None or signature is None or not secret:
        return False
    timestamp = str(timestamp)
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


def release_payload(release: Release) -> dict[str, Any]:
    """A release as the receiver sees it: version, content digest and the stack by kind."""
    return {
        "version": release.version,
        "content_digest": release.content_digest,
        "components": {
            component.kind: {
                "version": component.version,
                "uri": component.uri,
                "digest": component.digest,
            }
            for component in release.components.all()
        },
    }


class WebhookBackend(HttpBackend):
    """Deploys by calling a receiver the platform team runs; see the module docstring."""

    name = "Webhook"
    peer = "Webhook receiver"
    user_agent = "failsafe-webhook/1"
    url_setting = "URL"
    # 409: a request with this key is still being processed (see the module docstring).
    transient_statuses = TRANSIENT_STATUSES | {409}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        must_be = "an http(s) URL with a host"
        self.url = self._http_url("url", must_be=must_be)
        self.status_url = self._http_url("status_url", must_be=must_be)
        self.timeout = self._seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        secret = self._secrets.get("signing_secret")
        if not isinstance(secret, str) or not secret:
            raise self._misconfigured("backend_secrets.signing_secret is missing")
        self._secret = secret

    # The protocol

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult:
        return self._send(
            action="deploy", release=release, from_release=None, stage=stage,
            traffic_percent=float(traffic_percent), idempotency_key=idempotency_key,
            context=None,
        )  # fmt: skip

    def rollback(
        self,
        *,
        from_release: Release | None,
        to_release: Release,
        idempotency_key: str,
        context: RollbackContext,
    ) -> BackendResult:
        # A rollback puts the target back at general release, all traffic: the same end state
        # a deploy to general release reaches, so receivers can share the code path.
        return self._send(
            action="rollback", release=to_release, from_release=from_release,
            stage="general_release", traffic_percent=100.0, idempotency_key=idempotency_key,
            context=context,
        )  # fmt: skip

    def pause(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._control("pause", release, idempotency_key)

    def resume(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._control("resume", release, idempotency_key)

    def abort(self, *, release: Release, idempotency_key: str, reason: str) -> BackendResult:
        return self._control("abort", release, idempotency_key, reason)

    def _control(
        self, action: str, release: Release, idempotency_key: str, reason: str = ""
    ) -> BackendResult:
        # The receiver knows the rollout's stage and share; a control says only which.
        return self._send(
            action=action, release=release, from_release=None, stage=None,
            traffic_percent=None, idempotency_key=idempotency_key, context=None,
            reason=reason or None,
        )  # fmt: skip

    def status(self) -> BackendStatus:
        response = self._signed("GET", self.status_url, b"", what="status read")
        self._raise_for_status(response, what="status read")
        payload = json_of(response)
        if not isinstance(payload, dict) or "live_version" not in payload:
            raise BackendError(
                f"Webhook receiver answered the status read without a JSON object holding "
                f"live_version (HTTP {response.status_code}).",
                response=summary(response),
            )
        return BackendStatus(
            live_version=_optional_str(payload, "live_version"),
            candidate_version=_optional_str(payload, "candidate_version"),
            stage=_optional_str(payload, "stage"),
            traffic_percent=_optional_number(payload, "traffic_percent"),
            detail={"status_code": response.status_code, "response": payload},
        )

    # HTTP

    def _send(
        self,
        *,
        action: str,
        release: Release,
        from_release: Release | None,
        stage: str | None,
        traffic_percent: float | None,
        idempotency_key: str,
        context: RollbackContext | None,
        reason: str | None = None,
    ) -> BackendResult:
        timestamp = int(time.time())
        body = json.dumps(
            {
                "action": action,
                "system": self.environment.system.slug,
                "environment": self.environment.slug,
                "release": release_payload(release),
                "from_release": release_payload(from_release) if from_release else None,
                "stage": stage,
                "traffic_percent": traffic_percent,
                "idempotency_key": idempotency_key,
                "rollback": context.as_payload() if context is not None else None,
                **({"reason": reason} if reason else {}),
                "sent_at": datetime.fromtimestamp(timestamp, UTC).isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        response = self._signed(
            "POST", self.url, body, what=action, timestamp=timestamp,
            extra_headers={"Content-Type": "application/json", IDEMPOTENCY_HEADER: idempotency_key},
        )  # fmt: skip
        self._raise_for_status(response, what=action)
        detail: dict[str, Any] = {"status_code": response.status_code, "response": None}
        if len(response.content) <= MAX_KEPT_RESPONSE_BYTES:
            detail["response"] = json_of(response)
        if response.headers.get(REPLAYED_HEADER, "").lower() == "true":
            detail["replayed"] = True
        return BackendResult(accepted=True, detail=detail)

    def _signed(
        self,
        method: str,
        url: str,
        body: bytes,
        *,
        what: str,
        timestamp: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            **(extra_headers or {}),
        }
        return self._request(method, url, what=what, content=body or None, headers=headers)

    def _raise_for_status(self, response: httpx.Response, *, what: str) -> None:
        if response.status_code == 409:
            raise self._transient(
                response,
                f"Webhook receiver is still processing an earlier {what} with this "
                f"idempotency key (HTTP 409): {self._message(response)}",
            )
        super()._raise_for_status(response, what=what)

    def _error_message(self, payload: dict[str, Any]) -> str | None:
        for key in ("error", "message", "detail"):
            if payload.get(key):
                return str(payload[key])[:MAX_MESSAGE_CHARS]
        return None


def _optional_str(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BackendError(f"Webhook status answer: {key} must be a string, not {value!r}.")
    return value


def _optional_number(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BackendError(f"Webhook status answer: {key} must be a number, not {value!r}.")
    return float(value)

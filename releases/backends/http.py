"""What the HTTP backends (webhook, MLflow, Argo Rollouts) share: `HttpBackend`.

One client per process and TLS setting, kept alive between calls (a rollback reads the
status, calls and polls the same peer: one TLS handshake, not one per request); one check of
the configured URL, seconds and token; one reading of answers (`_json_or_raise`); and one
classification of failures:

    2xx                         success
    5xx, 408, 425, 429          transient, as are timeouts and connection errors; a backend
                                adds what a status means to it (409: the webhook's key in
                                flight, a Kubernetes write conflict)
    3xx                         permanent: redirects are not followed; configure the final URL
    other 4xx                   permanent, with the peer's message
    an internal address         permanent: the client connects only where the egress
                                policy allows (governance/egress.py, guarded_transport.py)

A transient error carries the answer's `Retry-After` (seconds, or an HTTP-date) as
`BackendError.retry_after`, in seconds, for the caller that retries it.

This module imports nothing from Django at import time: the webhook module, which a
receiver script imports for `verify`, builds on it.
"""

from __future__ import annotations

import email.utils
import functools
import os
import re
import ssl
import threading
import time
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias
from urllib.parse import urlsplit

import httpx

from governance.egress import EgressRefused, explanation, host_refusal
from releases.backends.base import BackendError
from releases.backends.guarded_transport import GuardedTransport

if TYPE_CHECKING:
    from releases.models import Environment

MAX_MESSAGE_CHARS = 500
MAX_SECONDS = 120.0  # the most any configured number of seconds may be
TRANSIENT_STATUSES = frozenset({408, 425, 429})  # and every 5xx

# True: the default CA bundle; False: no verification; a string: the PEM of the only CAs trusted.
Verify: TypeAlias = bool | str

_DELAY_SECONDS = re.compile(r"[0-9]{1,10}")


# Reading an answer


def json_of(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are both
        return None


def text_message(response: httpx.Response) -> str:
    """The answer's text, cut short, when it carries no structured error."""
    text = response.text.strip()
    return text[:MAX_MESSAGE_CHARS] if text else response.reason_phrase or "no message"


def summary(response: httpx.Response) -> dict[str, Any]:
    """What BackendError.response holds: plain JSON, safe to log, store or pickle."""
    payload = json_of(response)
    return {
        "status_code": response.status_code,
        "body": payload if payload is not None else response.text[:MAX_MESSAGE_CHARS],
        "retry_after": response.headers.get("Retry-After"),
    }


def is_transient(status_code: int, transient_statuses: frozenset[int] = TRANSIENT_STATUSES) -> bool:
    """Is a failed answer worth retrying? Every 5xx is, and the statuses given."""
    return status_code >= 500 or status_code in transient_statuses


def retry_after(response: httpx.Response, *, now: float | None = None) -> float | None:
    """How long the answer asks to wait before a retry, in seconds (0 for a date already
    past), from `Retry-After` as delay-seconds or an HTTP-date; None without a readable one."""
    value = response.headers.get("Retry-After", "").strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # an HTTP-date is in GMT
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Configuration


def seconds_problem(key: str, value: Any) -> str | None:
    """What is wrong with a configured number of seconds, or None if it is usable."""
    # bool is an int to Python; `true` is no timeout anyone meant.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"backend_config.{key} must be a number, not {value!r}"
    if not 0 < value <= MAX_SECONDS:
        return f"backend_config.{key} must be above 0 and at most {MAX_SECONDS:g}, not {value!r}"
    return None


@functools.lru_cache(maxsize=32)
def ca_context(pem: str) -> ssl.SSLContext:
    """A TLS context trusting only the CAs of `pem`; once per process and PEM. Raises
    ssl.SSLError or ValueError when the PEM holds no usable certificate."""
    return ssl.create_default_context(cadata=pem)


# This process's clients


_clients: dict[tuple[int, Verify], httpx.Client] = {}
_clients_lock = threading.Lock()


def http_client(verify: Verify = True) -> httpx.Client:
    """This process's client for one TLS setting, its connections kept alive between calls.

    httpx.Client is thread-safe: the rollback worker's threads share it. Keyed by process, so
    a forked worker never shares a parent's connection. Redirects are never followed (a
    signed or authorized request is not re-sent somewhere else); each request gives its own
    timeout. It connects only to addresses the egress policy allows, never through a proxy
    (GuardedTransport); a refused address raises governance.egress.EgressRefused."""
    key = (os.getpid(), verify)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = httpx.Client(
                    follow_redirects=False,
                    transport=GuardedTransport(ssl_context=_tls(verify)),
                    trust_env=False,
                )
                _clients[key] = client
    return client


def _tls(verify: Verify) -> ssl.SSLContext:
    if verify is True:
        return _default_tls()
    if verify is False:
        return httpx.create_ssl_context(verify=False)
    return ca_context(verify)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # Loading the CA bundle costs ~30 ms of CPU per client; once per process is enough.
    return httpx.create_ssl_context()


def _after_fork_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy held for good.
    global _clients_lock
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# The base


class HttpBackend:
    """A deployment backend that calls one HTTP peer; see the module docstring.

    A subclass names itself and its peer, reads its own settings in `__init__` after this
    one (with `_http_url`, `_seconds` and `_bearer_token`), and may say how its peer spells an
    error (`_error_message`)."""

    status_is_remote = True  # its state is on the other side of the network

    name: ClassVar[str]  # "MLflow": "MLflow backend of …", "MLflow deploy could not be sent"
    peer: ClassVar[str]  # who answers: "MLflow" failed, refused, redirected the …
    user_agent: ClassVar[str]
    url_setting: ClassVar[str]  # what to configure instead of following a redirect
    transient_statuses: ClassVar[frozenset[int]] = TRANSIENT_STATUSES

    timeout: float
    tls_verify: Verify = True  # see Verify
    _token: str | None = None  # sent as a Bearer token

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        config = environment.backend_config
        if not isinstance(config, dict):
            raise self._misconfigured("backend_config must be a JSON object")
        secrets = environment.backend_secrets
        self.config: dict[str, Any] = config
        self._secrets: dict[str, Any] = secrets if isinstance(secrets, dict) else {}

    # Configuration

    def _misconfigured(self, problem: str) -> BackendError:
        return BackendError(f"{self.name} backend of {self.environment}: {problem}.")

    def _http_url(self, key: str, *, must_be: str) -> str:
        """`backend_config[key]`, an http(s) URL with a host, stripped."""
        value = self.config.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._misconfigured(f"backend_config.{key} is missing")
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._misconfigured(f"backend_config.{key} must be {must_be}, not {value!r}")
        # Saved before the validators refused it, or allowed then: said before any call.
        rule = host_refusal(parts.hostname)
        if rule is not None:
            raise self._misconfigured(f"backend_config.{key} {explanation(rule)}")
        return value.strip()

    def _seconds(self, key: str, default: float) -> float:
        value = self.config.get(key, default)
        problem = seconds_problem(key, value)
        if problem is not None:
            raise self._misconfigured(problem)
        return float(value)

    def _bearer_token(self) -> str | None:
        token = self._secrets.get("token")
        if token is not None and not isinstance(token, str):
            raise self._misconfigured("backend_secrets.token must be a string")
        return token or None

    # HTTP

    @property
    def peer_at(self) -> str:
        """The peer, where the address helps: "MLflow at https://…" did not answer."""
        return self.peer

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request on this process's client; a failure to get an answer is a
        BackendError (transient unless the request itself could not be made)."""
        sent = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self._token:
            sent["Authorization"] = f"Bearer {self._token}"
        sent.update(headers or {})
        try:
            return http_client(self.tls_verify).request(
                method, url, params=params, content=content, json=json_body, headers=sent,
                timeout=self.timeout,
            )  # fmt: skip
        except httpx.TimeoutException as error:
            raise BackendError(
                f"{self.peer_at} did not answer the {what} within {self.timeout:g} s "
                f"({type(error).__name__}).",
                transient=True,
            ) from error
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
            raise BackendError(f"{self.name} {what} could not be sent: {error}.") from error
        except EgressRefused as error:
            raise BackendError(f"{self.name} {what} was not sent: {error}.") from error
        except httpx.TransportError as error:
            raise BackendError(
                f"{self.peer_at} is unreachable for the {what}: {error or type(error).__name__}.",
                transient=True,
            ) from error

    def _raise_for_status(self, response: httpx.Response, *, what: str) -> None:
        """Nothing for a 2xx; otherwise the BackendError the status means."""
        code = response.status_code
        if 200 <= code < 300:
            return
        message = self._message(response)
        if is_transient(code, self.transient_statuses):
            raise self._transient(
                response, f"{self.peer} failed the {what} (HTTP {code}): {message}"
            )
        if 300 <= code < 400:
            raise BackendError(
                f"{self.peer} redirected the {what} (HTTP {code}) to "
                f"{response.headers.get('Location', 'nowhere')}; redirects are not followed, "
                f"configure the final {self.url_setting}.",
                response=summary(response),
            )
        raise BackendError(
            f"{self.peer} refused the {what} (HTTP {code}): {message}", response=summary(response)
        )

    def _transient(self, response: httpx.Response, message: str) -> BackendError:
        return BackendError(
            message, transient=True, response=summary(response), retry_after=retry_after(response)
        )

    def _json_or_raise(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        """A 2xx answer's JSON object; any other answer, or a 2xx without one, raises."""
        self._raise_for_status(response, what=what)
        payload = json_of(response)
        if not isinstance(payload, dict):
            raise BackendError(
                f"{self.peer} answered the {what} with something that is not a JSON object "
                f"(HTTP {response.status_code}){self._not_an_object_ending()}",
                response=summary(response),
            )
        return payload

    def _not_an_object_ending(self) -> str:
        """How the complaint about a 2xx without a JSON object ends: a hint, or a full stop."""
        return "."

    def _message(self, response: httpx.Response) -> str:
        payload = json_of(response)
        structured = self._error_message(payload) if isinstance(payload, dict) else None
        return structured or text_message(response)

    def _error_message(self, payload: dict[str, Any]) -> str | None:
        """The peer's own error, from its JSON answer, cut short; None if it gives none."""
        return None

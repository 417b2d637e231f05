"""What the HTTP backends (webhook, MLflow, Kubernetes) share about reading an answer."""

from __future__ import annotations

from typing import Any

import httpx

MAX_MESSAGE_CHARS = 500
MAX_TIMEOUT_SECONDS = 120.0


def timeout_problem(value: Any) -> str | None:
    """What is wrong with a configured `timeout_seconds`, or None if it is usable."""
    # bool is an int to Python; `true` is no timeout anyone meant.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"backend_config.timeout_seconds must be a number, not {value!r}"
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        return (
            f"backend_config.timeout_seconds must be above 0 and at most "
            f"{MAX_TIMEOUT_SECONDS:g}, not {value!r}"
        )
    return None


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

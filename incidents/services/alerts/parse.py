"""Alert payloads read and checked: Alertmanager's webhook and the generic JSON, each alert an
`IncomingAlert`, or the whole post refused with an `AlertPayloadError` that names the field
(the package's docstring says what one post may hold)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from governance.limits import NAME, POST, shorten
from incidents.models import AlertStatus

# The caps of an alert's text (see the module's docstring).
FINGERPRINT = 128  # Alert.fingerprint
LABEL_TEXT = 1_000  # label names and values, annotation names
ANNOTATION_TEXT = POST  # 10,000: a description, a runbook link
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # a year short of Python's last, for any offset
# What PostgreSQL cannot store in text or JSON: NUL, and lone surrogates (not UTF-8 at all).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert, whatever format it came in."""

    source: str
    fingerprint: str
    status: str
    name: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    group_key: str = ""  # SHA-256 of Alertmanager's groupKey; "" outside a group
    truncated: int = 0  # alerts of its group that Alertmanager left out (its max_alerts)
    test_by: str = ""  # who sent it as a test, from the alert-tokens page; never from a payload


class AlertPayloadError(ValueError):
    """The payload is not an alert we understand: a 400 that says what is wrong, and where."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field

    def answer(self) -> dict[str, Any]:
        return {"detail": str(self), "field": self.field}


class AlertPayloadTooLarge(AlertPayloadError):
    """More alerts, or bytes, than one post may hold: a 413 naming the limit."""

    status = 413

    def __init__(self, *, limit: str, maximum: int, received: int) -> None:
        what = "alerts" if limit == "alerts" else "bytes"
        super().__init__(
            f"One post may hold at most {maximum} {what}; this one has {received}. "
            + (
                "Set the Alertmanager webhook's max_alerts to at most "
                f"{maximum}: it then sends the first {maximum} and counts the rest in "
                "truncatedAlerts."
                if limit == "alerts"
                else "Send fewer alerts a post (Alertmanager: a lower max_alerts)."
            )
        )
        self.limit, self.maximum, self.received = limit, maximum, received

    def answer(self) -> dict[str, Any]:
        return {
            "detail": str(self),
            "limit": self.limit,
            "maximum": self.maximum,
            "received": self.received,
        }


def check_size(length: int) -> None:
    """Refuse a body over ALERT_PAYLOAD_MAX_BYTES, before it is read."""
    if length > settings.ALERT_PAYLOAD_MAX_BYTES:
        raise AlertPayloadTooLarge(
            limit="bytes", maximum=settings.ALERT_PAYLOAD_MAX_BYTES, received=length
        )


def _check_count(count: int) -> None:
    if count > settings.ALERT_PAYLOAD_MAX_ALERTS:
        raise AlertPayloadTooLarge(
            limit="alerts", maximum=settings.ALERT_PAYLOAD_MAX_ALERTS, received=count
        )


def _unstorable(text: str) -> str | None:
    """What in `text` cannot be stored, said without repeating it (it cannot be sent back
    either: a lone surrogate is not UTF-8)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        return "holds U+0000 (NUL), which text here may not hold"
    return f"holds a lone surrogate (U+{ord(character):04X}), which is not Unicode text"


def check_text(document: Any) -> None:
    """Refuse NUL and lone surrogates in any string of the document, key or value, naming
    the first one's place. Walked without recursion: the depth is the parser's concern."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if problem := _unstorable(value):
                raise AlertPayloadError(problem, path or "the payload")
        elif isinstance(value, dict):
            items = []
            for key, item in value.items():
                if problem := _unstorable(key):
                    raise AlertPayloadError(f"a name in it {problem}", path or "the payload")
                items.append((f"{path}.{key}" if path else key, item))
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{n}]", item) for n, item in enumerate(value)]))


def _time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertPayloadError("must be an RFC 3339 time, as a string", field)
    if value.startswith("0001-01-01T00:00:00"):
        return None  # Go's zero time: Alertmanager's "not ended"
    shown = shorten(value, 40)
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well formed, but no such day or time (month 13, year 0)
        raise AlertPayloadError(f"{shown} is not a date and time that exists", field) from None
    if parsed is None:
        raise AlertPayloadError(f"{shown} is not an RFC 3339 time", field)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if not EARLIEST <= parsed < LATEST:
        raise AlertPayloadError(f"{shown} is not between 1970 and 9998", field)
    return parsed


def _text(value: Any, field: str, cap: int) -> str:
    if not isinstance(value, str):
        raise AlertPayloadError("must be a string", field)
    if len(value) > cap:
        raise AlertPayloadError(f"has {len(value)} characters; at most {cap}", field)
    return value


def _strings(value: Any, field: str, cap: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError("must be an object of strings", field)
    for key, item in value.items():
        if len(key) > LABEL_TEXT:
            raise AlertPayloadError(
                f"a name has {len(key)} characters; at most {LABEL_TEXT}", field
            )
        _text(item, f"{field}.{key}", cap)
    return dict(value)


def _fingerprint(name: str, labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([name, sorted(labels.items())]).encode()).hexdigest()[:32]


def _group(group_key: str) -> str:
    """A group key as kept: its SHA-256 (Alertmanager's own hash for length-bound keys)."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def parse_alertmanager(payload: Any) -> list[IncomingAlert]:
    """Prometheus Alertmanager's webhook payload, version 4: `groupKey`, `truncatedAlerts`
    and `alerts` (each with `status`, `labels`, `annotations`, `startsAt`, `endsAt`,
    `fingerprint`); the rest (`receiver`, `groupLabels`, `commonLabels`, …) is not kept."""
    if not isinstance(payload, dict) or str(payload.get("version")) != "4":
        raise AlertPayloadError("expected an Alertmanager webhook payload of version 4")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise AlertPayloadError("must be a non-empty list", "alerts")
    _check_count(len(alerts))
    check_text(payload)
    group_key = payload.get("groupKey") or ""
    if not isinstance(group_key, str):
        raise AlertPayloadError("must be a string", "groupKey")
    truncated = payload.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise AlertPayloadError("must be a whole number, 0 or more", "truncatedAlerts")
    group = _group(group_key) if group_key else ""
    parsed = []
    for n, alert in enumerate(alerts):
        at = f"alerts[{n}]"
        if not isinstance(alert, dict):
            raise AlertPayloadError("must be an object", at)
        labels = _strings(alert.get("labels"), f"{at}.labels", LABEL_TEXT)
        status = alert.get("status")
        if status not in AlertStatus.values:
            raise AlertPayloadError("must be firing or resolved", f"{at}.status")
        name = labels.get("alertname", "")
        if not name.strip():
            raise AlertPayloadError("has no alertname label", at)
        _text(name, f"{at}.labels.alertname", NAME)
        fingerprint = alert.get("fingerprint") or _fingerprint(name, labels)
        parsed.append(
            IncomingAlert(
                source="alertmanager",
                fingerprint=_text(fingerprint, f"{at}.fingerprint", FINGERPRINT),
                status=status,
                name=name,
                severity=labels.get("severity", "")[:20],
                labels=labels,
                annotations=_strings(
                    alert.get("annotations"), f"{at}.annotations", ANNOTATION_TEXT
                ),
                starts_at=_time(alert.get("startsAt"), f"{at}.startsAt"),
                ends_at=_time(alert.get("endsAt"), f"{at}.endsAt"),
                group_key=group,
                truncated=truncated,
            )
        )
    return parsed


def parse_generic(payload: Any) -> list[IncomingAlert]:
    """{"name", "status", "severity", "environment", "fingerprint", "labels", "annotations",
    "starts_at", "ends_at"}: anything that can POST JSON (Grafana, a cron job, a script)."""
    if not isinstance(payload, dict):
        raise AlertPayloadError("expected a JSON object")
    check_text(payload)
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AlertPayloadError("is required", "name")
    name = _text(name.strip(), "name", NAME)
    status = payload.get("status", AlertStatus.FIRING)
    if status not in AlertStatus.values:
        raise AlertPayloadError("must be firing or resolved", "status")
    labels = _strings(payload.get("labels"), "labels", LABEL_TEXT)
    for key in ("severity", "environment"):
        if payload.get(key) is not None:
            labels[key] = _text(payload[key], key, LABEL_TEXT)
    fingerprint = payload.get("fingerprint") or _fingerprint(name, labels)
    return [
        IncomingAlert(
            source="generic",
            fingerprint=_text(fingerprint, "fingerprint", FINGERPRINT),
            status=status,
            name=name,
            severity=labels.get("severity", "")[:20],
            labels=labels,
            annotations=_strings(payload.get("annotations"), "annotations", ANNOTATION_TEXT),
            starts_at=_time(payload.get("starts_at"), "starts_at"),
            ends_at=_time(payload.get("ends_at"), "ends_at"),
        )
    ]

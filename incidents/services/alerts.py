"""Alerts from monitoring: recorded, joined to an open incident, or declaring a new one when
they fire at a severity that pages.

What one post to the intake may hold. Anything else is refused whole, nothing written, with
a JSON reason that names the field (`alerts[3].startsAt`):

- at most ALERT_PAYLOAD_MAX_BYTES bytes and ALERT_PAYLOAD_MAX_ALERTS alerts: 413 (set
  Alertmanager's `max_alerts` no higher: it then leaves alerts out, and says how many, in
  `truncatedAlerts`, instead of having its notification refused);
- no string anywhere in it (label, annotation, name, key or any other field) holding U+0000
  or a lone surrogate (U+D800 to U+DFFF): 400. PostgreSQL can store neither, and labels are
  an alert's identity, so they are refused, never stripped (stripping could merge alerts);
- times that exist: RFC 3339, between 1970 and 9998 (without an offset: UTC), Go's zero time
  `0001-01-01T00:00:00Z` meaning "not set": 400;
- text within its cap: an alert's name NAME characters, its fingerprint FINGERPRINT, label
  names and values and annotation names LABEL_TEXT, annotation values ANNOTATION_TEXT: 400.
  Within them, an alert is kept whole; what is taken from it for an incident is cut to fit
  with an ellipsis (a `summary` over 200 characters titles its incident shortened).

Which incident an alert joins (one transaction per post; a post's alerts are taken most
urgent first, so a group's incident has the severity of its most severe firing alert):

1. The open incident of its Alertmanager group (`groupKey`): a group is one incident, its
   alerts stay apart (by fingerprint) within it.
2. Else the open incident its fingerprint declared (alerts without a group, and incidents
   from before groups, which then take the group).
3. Else, firing at a paging severity, it declares one, if its alert token has declared
   fewer than ALERT_NEW_INCIDENTS_PER_MINUTE in the current minute. Past that, it joins the
   token's open storm incident (declared by the first such alert: SEV1, the system's owners
   emailed), and the answer says so in its warnings.

Which environment an alert is about (`match_environment`), never silently:

- its label `environment` (else `env`) names one of the system's environments by slug or by
  name, compared without regard to case or surrounding spaces (a slug first: a name that is
  another environment's slug cannot steal it);
- without such a label, the system's only production environment is assumed, or, in a
  system without a production environment, its only environment; the sender is told so and
  the incident's timeline says so;
- a label that names no environment (or several by name), or no label where there is no
  single one to assume, leaves the alert and its incident without an environment: it is
  never guessed. The sender is told in the answer, the incident's timeline says which label
  value matched nothing and lists the system's environments, and the system's owners get
  an email (an incident without an environment cannot be rolled back).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from governance.limits import NAME, POST, shorten
from governance.models import AISystem
from incidents.models import (
    Alert,
    AlertStatus,
    AlertToken,
    Category,
    EntryKind,
    Incident,
    Severity,
    Source,
    Stage,
)
from incidents.notifications import tell_owners_of_storm, tell_owners_of_unmatched_environment
from incidents.services import triggers
from incidents.services.lifecycle import declare_incident
from incidents.services.timeline import record
from releases.models import Environment

logger = logging.getLogger(__name__)

# Monitoring's severity label → incident severity. Unlisted severities are recorded only.
PAGING_SEVERITIES = {
    "critical": Severity.SEV1,
    "page": Severity.SEV2,
    "high": Severity.SEV2,
    "error": Severity.SEV2,
    "warning": Severity.SEV3,
}
ENVIRONMENT_LABELS = ("environment", "env")

# The caps of an alert's text (see the module's docstring).
FINGERPRINT = 128  # Alert.fingerprint
LABEL_TEXT = 1_000  # label names and values, annotation names
ANNOTATION_TEXT = POST  # 10,000: a description, a runbook link
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # a year short of Python's last, for any offset
STORM_WINDOW = timedelta(minutes=1)
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


def _serialise(system: AISystem, alerts: list[IncomingAlert]) -> None:
    """Two deliveries of one group (Alertmanager's HA pair sends each twice), or of one alert
    without a group, arriving at once must not open two incidents: one advisory lock per
    group, else per fingerprint, taken in a fixed order so that two posts cannot deadlock."""
    names = {f"group:{a.group_key}" if a.group_key else a.fingerprint for a in alerts}
    keys = sorted(
        int.from_bytes(hashlib.sha256(f"{system.pk}:{n}".encode()).digest()[:8], "big", signed=True)
        for n in names
    )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@dataclass(frozen=True)
class EnvironmentMatch:
    """Which environment an alert's labels name (see the module's docstring)."""

    environment: Environment | None
    label: str = ""  # the label read, "environment" or "env"; "" when the alert had none
    value: str = ""  # its value, as sent
    # Said to the sender and on the incident's timeline: an assumption, or why there is no
    # environment. Empty when the label matched (or the system has no environment at all).
    warning: str = ""
    unmatched: bool = False  # no environment although the system has some: owners are told
    known: tuple[Environment, ...] = ()  # the system's environments, as the match saw them


def _listing(environments: list[Environment]) -> str:
    """By slug, what a label should say, then the name people know: "production (Production)"."""
    return ", ".join(f"{e.slug} ({e.name})" for e in environments)


NOT_ROLLED_BACK = (
    "The alert has no environment, nor has an incident it declares, which therefore cannot "
    "be rolled back: label the alert with one of the slugs."
)


def match_environment(
    system: AISystem, labels: dict[str, str], environments: list[Environment] | None = None
) -> EnvironmentMatch:
    """The environment an alert is about, by its `environment` or `env` label; one query,
    none when given the system's `environments` (a post's alerts read them once)."""
    if environments is None:
        environments = list(Environment.objects.filter(system=system))
    known = tuple(environments)
    label, value = next(
        ((name, labels[name]) for name in ENVIRONMENT_LABELS if labels.get(name, "").strip()),
        ("", ""),
    )
    if value:
        wanted = value.strip().casefold()
        found = [e for e in environments if e.slug.casefold() == wanted] or [
            e for e in environments if e.name.strip().casefold() == wanted
        ]
        if len(found) == 1:
            return EnvironmentMatch(found[0], label, value, known=known)
        said = f"The label {label}={json.dumps(value, ensure_ascii=False)}"
        if found:
            warning = (
                f"{said} names {len(found)} environments of {system.name} by name "
                f"({_listing(found)}). {NOT_ROLLED_BACK}"
            )
        elif environments:
            warning = (
                f"{said} matches no environment of {system.name}; its environments are "
                f"{_listing(environments)}. {NOT_ROLLED_BACK}"
            )
        else:
            warning = f"{said} matches no environment: {system.name} has none."
        return EnvironmentMatch(
            None, label, value, warning=warning, unmatched=bool(environments), known=known
        )
    production = [e for e in environments if e.is_production]
    if len(production) == 1 or (not production and len(environments) == 1):
        (assumed,) = production or environments
        which = "production environment" if production else "environment"
        return EnvironmentMatch(
            assumed,
            known=known,
            warning=f"No environment label: {assumed.name} ({assumed.slug}) assumed, the only "
            f"{which} of {system.name}. Label the alert environment={assumed.slug} to say so.",
        )
    if not environments:
        return EnvironmentMatch(None)
    warning = (
        f"No environment label, and {system.name} has no single production environment to "
        f"assume; its environments are {_listing(environments)}. {NOT_ROLLED_BACK}"
    )
    return EnvironmentMatch(None, warning=warning, unmatched=True, known=known)


@dataclass(frozen=True)
class ReceivedAlert:
    """An alert as stored, and what the sender should be told of it."""

    alert: Alert
    match: EnvironmentMatch
    said: tuple[str, ...] = ()  # besides the environment's warning (e.g. the storm)

    @property
    def environment_slug(self) -> str | None:
        return self.match.environment.slug if self.match.environment else None

    @property
    def warnings(self) -> list[str]:
        return ([self.match.warning] if self.match.warning else []) + list(self.said)


def ingest_alert(*, system: AISystem, alert: IncomingAlert) -> Alert:
    """Record the alert; join the open incident with its fingerprint or declare one."""
    return receive_alert(system=system, alert=alert).alert


def receive_alert(*, system: AISystem, alert: IncomingAlert) -> ReceivedAlert:
    """`ingest_alert`, with what the sender should be told (the environment's warnings)."""
    (received,) = receive_alerts(system=system, alerts=[alert])
    return received


@dataclass
class _Post:
    """One post's alerts as they are received: what they share, read once."""

    system: AISystem
    token: AlertToken | None
    environments: list[Environment]
    by_group: dict[str, Incident | None] = field(default_factory=dict)
    locked_token: AlertToken | None = None
    storm: Incident | None = None

    def admit(self) -> bool:
        """Whether the token may declare one more incident this minute; counts it if so."""
        limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
        if self.token is None or limit == 0:
            return True
        if self.locked_token is None:
            # Posts of one token count its new incidents one at a time. Taken after the
            # group locks and before any incident row: every post locks in that order.
            self.locked_token = AlertToken.objects.select_for_update().get(pk=self.token.pk)
        token, now = self.locked_token, timezone.now()
        if token.window_started_at is None or now - token.window_started_at >= STORM_WINDOW:
            token.window_started_at, token.window_declared = now, 0
        if token.window_declared >= limit:
            return False
        token.window_declared += 1
        token.save(update_fields=["window_started_at", "window_declared"])
        return True


def _urgency(alert: IncomingAlert) -> tuple[bool, int]:
    """Firing before resolved, then the most severe first."""
    severity = PAGING_SEVERITIES.get(alert.severity.lower())
    rank = Severity.values.index(severity) if severity else len(Severity.values)
    return (alert.status != AlertStatus.FIRING, rank)


@transaction.atomic
def receive_alerts(
    *, system: AISystem, alerts: list[IncomingAlert], token: AlertToken | None = None
) -> list[ReceivedAlert]:
    """Record one post's alerts, in one transaction: each joins its group's open incident,
    else its fingerprint's, else declares one within `token`'s rate of new incidents, else
    joins the token's storm incident (see the module's docstring). The plans' triggers are
    evaluated once per incident an alert fired in. What to tell the sender, in post order."""
    _serialise(system, alerts)
    post = _Post(system, token, list(Environment.objects.filter(system=system)))
    received: dict[int, ReceivedAlert] = {}
    fired: dict[int, Incident] = {}
    for n in sorted(range(len(alerts)), key=lambda n: _urgency(alerts[n])):
        alert = alerts[n]
        match = match_environment(system, alert.labels, post.environments)
        incident, said = _incident_for(post, alert, match)
        stored = Alert.objects.create(
            system=system,
            environment=match.environment,
            incident=incident,
            source=alert.source,
            fingerprint=alert.fingerprint,
            status=alert.status,
            name=alert.name,
            severity=alert.severity,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
        )
        if incident is not None:
            summary = alert.annotations.get("summary", "")
            record(
                incident,
                actor=None,
                kind=EntryKind.ALERT,
                action=f"alert.{alert.status}",
                body=f"{alert.name} {alert.status}" + (f": {summary}" if summary else "."),
                data={
                    "alert": stored.pk,
                    "status": alert.status,
                    "fingerprint": alert.fingerprint,
                    "labels": alert.labels,
                },
            )
            if match.warning:
                _say_on_timeline(incident, stored, match)
            if alert.status == AlertStatus.FIRING:
                fired[incident.pk] = incident
        if match.unmatched:
            logger.warning(
                "alert %s of %s: %s", alert.name, system.slug, match.warning,
                extra={"alert": stored.pk, "incident": stored.incident_id},
            )  # fmt: skip
        received[n] = ReceivedAlert(stored, match, said)
    if alerts[0].truncated:
        _say_truncated(post, alerts[0])
    for incident in fired.values():
        triggers.evaluate(incident)  # the plan may call for a rollback now
    return [received[n] for n in range(len(alerts))]


def _open_incident(system: AISystem, **match: Any) -> Incident | None:
    # Read, not locked: the group's (or fingerprint's) lock already serialises the alerts
    # that could join it, and a person closing it meanwhile is not held up (an alert that
    # lands as it closes joins it, as it would have a moment before).
    return (
        Incident.objects.filter(system=system, **match)
        .exclude(stage=Stage.CLOSED)
        .order_by("-detected_at", "-id")
        .first()
    )


def _incident_for(
    post: _Post, alert: IncomingAlert, match: EnvironmentMatch
) -> tuple[Incident | None, tuple[str, ...]]:
    """The incident the alert joins or declares, and what the sender should hear of it."""
    group = alert.group_key
    if group:
        if group not in post.by_group:
            post.by_group[group] = _open_incident(post.system, group_key=group)
        if (incident := post.by_group[group]) is not None:
            return incident, ()
    incident = _open_incident(post.system, fingerprint=alert.fingerprint)
    if incident is not None:
        if group and not incident.group_key:  # an incident from before groups takes its group
            incident.group_key = group
            incident.save(update_fields=["group_key"])
            post.by_group[group] = incident
        return incident, ()
    severity = PAGING_SEVERITIES.get(alert.severity.lower())
    if alert.status != AlertStatus.FIRING or severity is None:
        return None, ()
    if not post.admit():
        return _storm(post, alert, match)
    incident = _declare(post, alert, match.environment, severity)
    if group:
        post.by_group[group] = incident
    return incident, ()


def _declare(
    post: _Post,
    alert: IncomingAlert,
    environment: Environment | None,
    severity: str,
    *,
    title: str = "",
    summary: str = "",
    storm: bool = False,
) -> Incident:
    """An incident the alert declares (as monitoring), with its group and its token."""
    category = alert.labels.get("category", "")
    # Words from the alert on one line, cut to fit: a long summary titles the incident
    # shortened (the alert keeps it whole); a blank one leaves the alert's name.
    words = " ".join((title or alert.annotations.get("summary", "")).split())
    incident = declare_incident(
        actor=None,
        system=post.system,
        environment=environment,
        title=shorten(words or " ".join(alert.name.split()), NAME),
        severity=severity,
        category=category if category in Category.values else Category.PERFORMANCE,
        source=Source.ALERT,
        summary=shorten(summary or alert.annotations.get("description", ""), _SUMMARY),
        fingerprint="" if storm else alert.fingerprint,
        # Detected when it started, not in the future a sender's clock may claim.
        detected_at=min(alert.starts_at, timezone.now()) if alert.starts_at else None,
    )
    incident.group_key = "" if storm else alert.group_key
    incident.alert_token, incident.is_storm = post.token, storm
    incident.save(update_fields=["group_key", "alert_token", "is_storm"])
    return incident


_SUMMARY = Incident._meta.get_field("summary").max_length or ANNOTATION_TEXT


def _storm(
    post: _Post, alert: IncomingAlert, match: EnvironmentMatch
) -> tuple[Incident, tuple[str, ...]]:
    """The token's open storm incident (its row lock held: one storm per token), declared
    with the first alert past the rate; the owners hear of a new one."""
    assert post.token is not None  # only a token's posts are rated
    limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
    token = post.token
    if post.storm is None:
        post.storm = _open_incident(post.system, alert_token=token, is_storm=True)
    if post.storm is None:
        what = (
            f"More than {limit} new incidents a minute from the alert token {token.name} "
            f"({token.prefix}…)"
        )
        post.storm = _declare(
            post,
            alert,
            match.environment,
            Severity.SEV1,
            title=f"Alert storm: {token.name}",
            summary=f"{what}: every alert that would open another one joins this incident "
            "until it is closed. Its alerts keep their own names and fingerprints. Look at "
            "what the monitoring sends; revoke the token if it is not to be trusted.",
            storm=True,
        )
        record(
            post.storm,
            actor=None,
            kind=EntryKind.ALERT,
            action="alert.storm",
            body=f"{what}: alerts that would open another incident join this one.",
            data={"token": token.prefix, "limit": limit},
        )
        logger.warning(
            "alert storm from token %s of %s: incident %s", token.prefix, post.system.slug,
            post.storm.pk,
        )  # fmt: skip
        tell_owners_of_storm(post.storm.pk)
    said = (
        f"More than {limit} new incidents a minute from this token: the alert joined the "
        f"storm incident INC-{post.storm.pk} instead of opening one of its own."
    )
    return post.storm, (said,)


def _say_truncated(post: _Post, alert: IncomingAlert) -> None:
    """Once per incident: Alertmanager left alerts of its group out (its max_alerts)."""
    incident = post.by_group.get(alert.group_key)
    if incident is None or incident.timeline.filter(data__has_key="truncated").exists():
        return
    record(
        incident,
        actor=None,
        kind=EntryKind.ALERT,
        action="alert.truncated",
        body=f"Alertmanager left {alert.truncated} alerts of this group out of a notification "
        "(its webhook's max_alerts): they are not among the incident's alerts.",
        data={"truncated": alert.truncated},
    )


def _say_on_timeline(incident: Incident, stored: Alert, match: EnvironmentMatch) -> None:
    """Once per incident and label value: what the alert's environment label matched, or
    not; the owners hear of an incident left without an environment."""
    said = {"label": match.label, "value": match.value}
    if incident.timeline.filter(kind=EntryKind.ALERT, data__environment_label=said).exists():
        return
    record(
        incident,
        actor=None,
        kind=EntryKind.ALERT,
        action="alert.environment_unmatched" if match.unmatched else "alert.environment_assumed",
        body=match.warning,
        data={
            "alert": stored.pk,
            "environment_label": said,
            "environment": match.environment.slug if match.environment else None,
            "environments": [
                {"slug": e.slug, "name": e.name, "is_production": e.is_production}
                for e in match.known
            ],
        },
    )
    if match.unmatched and incident.environment_id is None:
        tell_owners_of_unmatched_environment(incident.pk, label=match.label, value=match.value)

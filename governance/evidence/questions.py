"""The auditor's questions: the contract, the registry other apps fill, and `answer_all`.

governance knows nothing of releases or incidents (dependencies point the other way). The
apps register, in their AppConfig.ready(), the questions they can answer (`register`), the
pickers a question page offers (`register_picker`: environments, releases) and what
evidence they hold for a period (`register_source`, read by the coverage of the control
mapping). A page, the API and the evidence pack all answer through this module, so they
never disagree.

An answer is a plain dict (lists, strings, numbers, booleans, None, datetimes, decimals):
templates format the datetimes; `jsonable` turns it into JSON for the API and the pack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from governance.evidence.kinds import EvidenceKind

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from governance.evidence.report import Block
    from governance.models import AISystem

# The inputs a question may take; each page and API call reads only those it declares.
ENVIRONMENT_AT = "environment_at"  # ?environment=<slug>&at=<ISO 8601 datetime>
RELEASE = "release"  # ?release=<version>
PERIOD = "period"  # ?start=<date or datetime>&end=<date or datetime>
INPUTS = (ENVIRONMENT_AT, RELEASE, PERIOD)
PARAMETERS = {
    ENVIRONMENT_AT: ("environment", "at"),
    RELEASE: ("release",),
    PERIOD: ("start", "end"),
}

DEFAULT_PERIOD_DAYS = 90


@dataclass(frozen=True)
class Params:
    """A question's parsed input. Missing values are None: each question picks its default
    (the production environment, now, the release live in production, the last 90 days)."""

    environment: str | None = None
    at: datetime | None = None
    release: str | None = None
    start: datetime | None = None
    end: datetime | None = None


Answer = dict[str, Any]


@dataclass(frozen=True)
class Question:
    """One question an auditor asks about a system, answered by the app that holds the data.

    `answer(system, params)` answers it for the inputs a page or API call gave;
    `answer_period(system, start, end)` answers it for a whole period (the evidence pack).
    Both raise ValidationError, with the input's name as the key, on input they cannot use
    (an unknown environment or release): the page and the API turn that into a 400.
    `report(answer, block)` writes the period's answer, as JSON, into the pack's report; a
    question without one shows there with its title and summary only.
    """

    key: str
    title: str
    summary: str
    order: int
    inputs: tuple[str, ...]
    answer: Callable[[AISystem, Params], Answer]
    answer_period: Callable[[AISystem, datetime, datetime], Answer]
    template: str  # renders `answer` on the question page
    short: str = ""  # a tab's label: "Live at T", "Approval" …
    kinds: tuple[EvidenceKind, ...] = ()  # the evidence it draws on
    report: Callable[[Answer, Block], None] | None = None  # its part of the pack's report


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    note: str = ""


Picker = Callable[["AISystem"], list[Choice]]


@dataclass(frozen=True)
class EvidenceSource:
    """What one app holds of some evidence kinds for a system and period.

    `count(system, start, end)` returns {kind: number of records} in a fixed number of
    queries; `links(system)` where a person can look at each kind (a page URL).
    """

    name: str
    kinds: tuple[EvidenceKind, ...]
    count: Callable[[AISystem, datetime, datetime], dict[EvidenceKind, int]]
    links: Callable[[AISystem], dict[EvidenceKind, str]] = field(default=lambda system: {})


_questions: dict[str, Question] = {}
_pickers: dict[str, Picker] = {}
_sources: list[EvidenceSource] = []


def register(question: Question) -> None:
    if question.key in _questions and _questions[question.key] != question:
        raise ValueError(f"Question {question.key!r} is registered twice.")
    unknown = set(question.inputs) - set(INPUTS)
    if unknown:
        raise ValueError(f"Question {question.key!r} takes unknown inputs {sorted(unknown)}.")
    _questions[question.key] = question


def register_picker(name: str, picker: Picker) -> None:
    _pickers[name] = picker


def register_source(source: EvidenceSource) -> None:
    if source not in _sources:
        _sources.append(source)


def questions() -> list[Question]:
    return sorted(_questions.values(), key=lambda q: q.order)


def get_question(key: str) -> Question | None:
    return _questions.get(key)


def pick(name: str, system: AISystem) -> list[Choice]:
    picker = _pickers.get(name)
    return picker(system) if picker is not None else []


def sources() -> list[EvidenceSource]:
    return list(_sources)


# --- input ----------------------------------------------------------------------------------


def _moment(value: str, name: str, *, end_of_day: bool = False) -> datetime:
    """A datetime from ISO 8601; a bare date is that day's start (or, for an end, the next
    day's start, so that a period "to 2026-11-30" includes the 30th). Naive means UTC."""
    value = value.strip()
    try:  # a bare date first: parse_datetime would take it for midnight
        day = parse_date(value)
        moment = None if day is not None else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise ValidationError(
            {name: f"{value!r} is not a date or time (use ISO 8601, e.g. 2026-11-23T14:30Z)."}
        )
    try:  # out of range: 9999-12-31 as an end, or year 1 with an offset east of UTC
        if moment is None:
            assert day is not None
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python takes.
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError({name: f"{value!r} is out of range."}) from None


def parse_params(query: Mapping[str, str], inputs: tuple[str, ...] = INPUTS) -> Params:
    """Read the inputs a question takes from a query string; ValidationError by input name."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def text(name: str) -> str | None:
        value = (query.get(name) or "").strip()
        return value or None

    def moment(name: str, **kwargs: Any) -> datetime | None:
        value = text(name)
        if value is None:
            return None
        try:
            return _moment(value, name, **kwargs)
        except ValidationError as error:
            errors.update({k: v[0] for k, v in error.message_dict.items()})
            return None

    if ENVIRONMENT_AT in inputs:
        values["environment"] = text("environment")
        values["at"] = moment("at")
    if RELEASE in inputs:
        values["release"] = text("release")
    if PERIOD in inputs:
        values["start"] = moment("start")
        values["end"] = moment("end", end_of_day=True)
        if values["start"] and values["end"] and values["start"] >= values["end"]:
            errors["end"] = "The period ends before it starts."
    if errors:
        raise ValidationError(errors)
    return Params(**values)


def refuse_inputs_not_taken(query: Mapping[str, str], inputs: tuple[str, ...]) -> None:
    """An input of another question is refused (ValidationError), not answered as if it had
    not been sent: `?at=` to a question about one release would otherwise look heeded."""
    taken = sorted(name for group in inputs for name in PARAMETERS[group])
    others = [
        name
        for group in INPUTS
        for name in PARAMETERS[group]
        if name in query and name not in taken
    ]
    if others:
        takes = ", ".join(taken) or "no input"
        raise ValidationError(
            {name: f"This question does not take {name} (it takes {takes})." for name in others}
        )


def period_of(params: Params, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period a page asked for, or the last DEFAULT_PERIOD_DAYS days up to now."""
    now = now or timezone.now()
    end = params.end or now
    start = params.start or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if start >= end:
        raise ValidationError({"start": "The period ends before it starts."})
    return start, end


def check_period(start: datetime, end: datetime) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationError("A period's bounds need a time zone.")
    if start >= end:
        raise ValidationError({"end": "The period ends before it starts."})


# --- output ---------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """UTC, ISO 8601, with a Z: how every time in an answer reads in JSON."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """An answer as JSON values: datetimes as ISO 8601 UTC strings, decimals as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 2.500000 → "2.5", 100 → "100"
    return value


def answer_one(system: AISystem, key: str, params: Params) -> Answer:
    question = _questions.get(key)
    if question is None:
        raise ValidationError({"question": f"Unknown question {key!r}."})
    return question.answer(system, params)


def answer_all(*, system: AISystem, start: datetime, end: datetime) -> dict[str, Any]:
    """Every question answered for `system` over [start, end), as JSON values.

    For the evidence pack's report (and `GET /api/systems/<slug>/evidence/`). The caller
    checks permissions. Shape (stable; times are ISO 8601 UTC strings with a Z):

        {
          "system": {"slug", "name", "risk_category", "intended_purpose"},
          "period": {"start", "end"},
          "generated_at": str,
          "questions": [            # in the order below; a question no app answers is absent
            {"key", "title", "summary", "answer": {...}},
          ],
        }

    The answers, by key:

    - "live" — which release was live where: {"environments": [{"slug", "name",
      "is_production", "periods": [{"release": RELEASE, "started_at", "ended_at" (null: still
      live), "via": "rollout"|"rollback"}]}]}, periods overlapping the period, oldest first.
    - "approval" — how each release live or decided in the period was approved:
      {"releases": [APPROVAL]}, APPROVAL = {"release": RELEASE, "submitted_at",
      "decided_at", "author": PERSON, "evaluation": COMPONENT|null, "gate": {"as_of" (the
      decision, else now: the gate as it stood then), "passed", "approvals_required",
      "approvals_given", "criteria": [{"criterion", "label", "required", "passed", "check":
      {"comparison", "comparison_label", "measured_value", "target", "unit", "passed",
      "evidence_uri", "note", "recorded_by": PERSON, "recorded_at", "drill": rollback
      id|null, "valid_until"}|null}]}, "approvals": [{"approver": PERSON, "decision",
      "decision_label", "comment", "decided_at", "release_digest", "digest_matches",
      "cites_rollback": rollback id|null (a rolled-back release's return)}]}.
    - "changes" — for each release that went live in the period, the diff against the one
      before: {"releases": [{"release": RELEASE, "base": RELEASE|null, "base_reason",
      "components": [{"kind", "label", "before": COMPONENT|null, "after": COMPONENT|null,
      "changed", "fields_changed"}], "card": [{"field", "label", "before", "after",
      "changed"}], "change_categories": [{"value", "label"}]}]}.
    - "monitoring" — {"release": RELEASE|null, "start", "end", "live_windows": [{"environment",
      "start", "end", "still_live"}] (a release's deployment periods in the period, exactly;
      empty without a release), "summary": {"alerts",
      "alerts_firing", "incidents", "incidents_open", "serious_incidents", "rollbacks",
      "rollbacks_succeeded", "rollbacks_failed", "median_minutes_to_rollback"},
      "alerts": [ALERT], "alerts_truncated": bool, "incidents": [INCIDENT],
      "rollbacks": [ROLLBACK]} (drills are not rollbacks here; see "rollback_plan").
    - "rollback_plan" — {"releases": [{"release": RELEASE, "plan": PLAN|null,
      "rollbacks": [ROLLBACK + "checks": [{"check": "target"|"owner"|"trigger"|
      "environment", "ok": bool, "detail"}], "followed": bool], "followed": bool|null (null:
      never rolled back)}], "drills": [ROLLBACK]} for each release live in the period; drills
      run in the period.

    RELEASE = {"id", "version", "title", "status", "content_digest", "url", "stack": {kind:
    COMPONENT}} (kind: model, fusion, threshold_policy, sdk, dataset, evaluation);
    COMPONENT = {"version", "uri", "digest"}; PERSON = {"id", "username", "name"} or null
    (the rollback plan's trigger, monitoring); ROLLBACK = {"id", "environment" (slug),
    "from_release", "to_release" (versions), "status", "status_label", "is_drill",
    "reason", "requested_by": PERSON, "confirmed_by": PERSON, "automatic", "trigger",
    "requested_at", "finished_at", "minutes_to_finish", "error"} — under "monitoring" each
    also has "incident": int|null; PLAN = {"environment": {"slug", "name",
    "is_production"}, "target_release": version|null (null: the last known good),
    "owners": [PERSON], "mode", "mode_label", "cooldown_minutes", "triggers": [{"metric",
    "comparison", "threshold", "window_minutes", "text"}], "written_by": PERSON,
    "updated_at"}; ALERT = {"id", "name", "severity", "status", "environment",
    "fingerprint", "starts_at", "received_at", "incident": int|null}; INCIDENT = {"id",
    "title", "url", "severity", "severity_label", "category", "category_label", "stage",
    "stage_label", "environment", "source", "detected_at", "contained_at",
    "rolled_back_at", "recovered_at", "closed_at", "live_release" (version), "is_serious",
    "postmortem_published", "rollbacks": [rollback ids]}. Decimals are strings ("2.5").
    """
    check_period(start, end)
    return {
        "system": {
            "slug": system.slug,
            "name": system.name,
            "risk_category": system.risk_category,
            "intended_purpose": system.intended_purpose,
        },
        "period": {"start": iso(start), "end": iso(end)},
        "generated_at": iso(timezone.now()),
        "questions": [
            {
                "key": question.key,
                "title": question.title,
                "summary": question.summary,
                "answer": jsonable(question.answer_period(system, start, end)),
            }
            for question in questions()
        ],
    }


# --- counting, for the sources --------------------------------------------------------------


def count_all(querysets: Mapping[EvidenceKind, QuerySet[Any]]) -> dict[EvidenceKind, int]:
    """Count several querysets in one database round trip (a SELECT of scalar subqueries)."""
    from django.db import connection

    if not querysets:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        sql, sql_params = queryset.order_by().values("pk").query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted)")
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {kind: int(n) for kind, n in zip(querysets, row, strict=True)}

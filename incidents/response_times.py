"""Incident response metrics: how long from detection to acknowledge, contain, roll back, resolve.

Every duration is measured from `detected_at`, in minutes, over the incidents the user may see
that were detected in the period. Each timing counts only the incidents whose stamp is set:
an incident still waiting for containment does not pull the median to zero or to infinity.

- acknowledge: `acknowledged_at` (a commander took the incident, or it first moved stage)
- contain: `contained_at`, the first of: a containment action marked done, leaving the
  containment stage, the rollback done (`incidents.services.lifecycle.mark_contained`)
- roll back: `rolled_back_at` (a rollback for the incident was verified, or it left the
  rollback stage; a skipped rollback has no stamp)
- resolve: `recovered_at` (left the recovery stage); an incident whose recovery stage was
  skipped counts as resolved when it closed (`closed_at`).

A stamp earlier than the detection (monitoring's clock ahead of ours) counts as zero.

All aggregation runs in PostgreSQL (`percentile_cont` for medians and p90): five queries,
whatever the number of incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from incidents.models import Incident, Severity, Stage
from incidents.queries import incidents_for

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Expression

    from governance.models import AISystem

PERIOD_DAYS = (30, 90, 365)
DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 731  # two years: the weekly chart stays readable
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


# ---- PostgreSQL expressions ------------------------------------------------------------------


class Minutes(Func):
    """Minutes from `start` to `end`; NULL when `end` is NULL."""

    arg_joiner = " - "
    template = "CAST(EXTRACT(EPOCH FROM (%(expressions)s)) AS double precision) / 60"
    output_field = FloatField()

    def __init__(self, end: Any, start: Any, **extra: Any) -> None:
        super().__init__(end, start, **extra)


class Percentile(Aggregate):
    """`percentile_cont`: the value below which `fraction` of the rows fall, interpolated."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        # A constant of ours, never user input: safe to place in the SQL text.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


# ---- what is measured ------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    stamp: str  # the timestamp the clock stops at, for the docs and the tests

    def minutes(self) -> Expression:
        end: Any = F(self.stamp)
        if self.key == "resolve":
            end = Coalesce("recovered_at", "closed_at")
        # Not GREATEST(…, 0): it skips NULLs, and a missing stamp must stay missing.
        return Case(
            When(GreaterThan(F("detected_at"), end), then=Value(0.0)),
            default=Minutes(end, F("detected_at")),
            output_field=FloatField(),
        )


MEASURES = (
    Measure("acknowledge", "Time to acknowledge", "acknowledged_at"),
    Measure("contain", "Time to contain", "contained_at"),
    Measure("roll_back", "Time to roll back", "rolled_back_at"),
    Measure("resolve", "Time to resolve", "recovered_at, else closed_at"),
)
RESOLVE = MEASURES[-1]


def _timing_aggregates(within: Q | None = None) -> dict[str, Aggregate]:
    aggregates: dict[str, Aggregate] = {"count": Count("pk", filter=within)}
    for measure in MEASURES:
        minutes = measure.minutes()
        aggregates |= {
            f"{measure.key}_n": Count(minutes, filter=within),
            f"{measure.key}_median": Percentile(minutes, 0.5, filter=within),
            f"{measure.key}_mean": Avg(minutes, filter=within),
            f"{measure.key}_p90": Percentile(minutes, 0.9, filter=within),
        }
    return aggregates


# ---- the period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days, `start` to `end` inclusive, in the site's time zone."""

    start: date
    end: date
    days: int | None  # the preset it came from; None for explicit dates

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def label(self) -> str:
        if self.days is not None and self.end == timezone.localdate():
            return f"Last {self.days} days"
        return f"{_day(self.start)} to {_day(self.end)}"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def resolve_period(
    *,
    days: int | None = None,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
) -> Period:
    """The period asked for: a preset number of days ending today, or explicit dates.

    A missing `end` is today; a missing `start` is `days` (default 90) before `end`.
    Raises ValidationError keyed by the query parameter at fault ("period", "from", "to").
    """
    if days is not None and days not in PERIOD_DAYS:
        choices = ", ".join(str(d) for d in PERIOD_DAYS)
        raise ValidationError({"period": f"Choose a period of {choices} days."})
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValidationError(
                {name: f"Pick a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}."}
            )
    today = today or timezone.localdate()
    explicit = start is not None or end is not None
    end = end or today
    span = days or DEFAULT_PERIOD_DAYS
    start = start or end - timedelta(days=span - 1)
    if start > end:
        raise ValidationError({"to": "The end date comes before the start date."})
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationError({"from": f"Pick a period of at most {MAX_PERIOD_DAYS} days."})
    return Period(start=start, end=end, days=None if explicit else span)


# ---- results ---------------------------------------------------------------------------------


def humanise_minutes(minutes: float | None) -> str:
    """'—', '< 1 min', '4 min', '2 h 10 min', '3 d 4 h'."""
    if minutes is None:
        return "—"
    if minutes < 1:
        return "< 1 min"
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    if total < 24 * 60:
        hours, rest = divmod(total, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(total, 24 * 60)
    hours = round(rest / 60)
    if hours == 24:
        days, hours = days + 1, 0
    return f"{days} d {hours} h" if hours else f"{days} d"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


@dataclass(frozen=True)
class Timing:
    """One time-to-X over a set of incidents, in minutes. `count`: incidents with the stamp."""

    measure: Measure
    count: int
    median: float | None
    mean: float | None
    p90: float | None

    @property
    def median_text(self) -> str:
        return humanise_minutes(self.median)

    @property
    def mean_text(self) -> str:
        return humanise_minutes(self.mean)

    @property
    def p90_text(self) -> str:
        return humanise_minutes(self.p90)


@dataclass(frozen=True)
class SystemRef:
    slug: str
    name: str


@dataclass(frozen=True)
class Slice:
    """The incidents of one system and/or severity (or all of them): how many, how fast."""

    count: int
    acknowledge: Timing
    contain: Timing
    roll_back: Timing
    resolve: Timing
    system: SystemRef | None = None
    severity: str | None = None

    @property
    def timings(self) -> list[Timing]:
        return [self.acknowledge, self.contain, self.roll_back, self.resolve]

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label if self.severity else "All severities"

    @classmethod
    def from_row(cls, row: dict[str, Any], **where: Any) -> Slice:
        def timing(measure: Measure) -> Timing:
            return Timing(
                measure=measure,
                count=row[f"{measure.key}_n"],
                median=_rounded(row[f"{measure.key}_median"]),
                mean=_rounded(row[f"{measure.key}_mean"]),
                p90=_rounded(row[f"{measure.key}_p90"]),
            )

        acknowledge, contain, roll_back, resolve = (timing(measure) for measure in MEASURES)
        return cls(
            count=row["count"],
            acknowledge=acknowledge,
            contain=contain,
            roll_back=roll_back,
            resolve=resolve,
            **where,
        )


@dataclass(frozen=True)
class Week:
    start: date  # the Monday
    count: int  # incidents detected that week
    resolve_median: float | None  # of those incidents, resolved ones only

    @property
    def resolve_median_text(self) -> str:
        return humanise_minutes(self.resolve_median)


@dataclass(frozen=True)
class IncidentMetrics:
    period: Period
    system: AISystem | None
    severity: str | None
    open_count: int  # open now, whenever detected (the system and severity filters apply)
    overall: Slice
    by_system: list[Slice] = field(default_factory=list)
    by_severity: list[Slice] = field(default_factory=list)
    breakdown: list[Slice] = field(default_factory=list)  # per system and severity
    weekly: list[Week] = field(default_factory=list)

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label if self.severity else "All severities"

    @property
    def breakdown_rows(self) -> list[Slice]:
        """Each system's totals (severity None) followed by its severities, for the page."""
        rows: dict[str, list[Slice]] = {}
        for row in self.breakdown:
            if row.system is not None:
                rows.setdefault(row.system.slug, []).append(row)
        return [
            row
            for total in self.by_system
            if total.system is not None
            for row in (total, *rows.get(total.system.slug, []))
        ]


# ---- the computation -------------------------------------------------------------------------


def _system(row: dict[str, Any]) -> SystemRef:
    return SystemRef(slug=row["system__slug"], name=row["system__name"])


def _weeks(period: Period, rows: list[dict[str, Any]]) -> list[Week]:
    """Every week of the period, the empty ones too (a chart with gaps would mislead)."""
    found = {timezone.localtime(row["week"]).date(): row for row in rows}
    monday = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while monday <= period.end:
        row = found.get(monday)
        weeks.append(
            Week(
                start=monday,
                count=row["count"] if row else 0,
                resolve_median=_rounded(row["median"]) if row else None,
            )
        )
        monday += timedelta(days=7)
    return weeks


def incident_metrics(
    user: User,
    *,
    period: Period,
    system: AISystem | None = None,
    severity: str | None = None,
) -> IncidentMetrics:
    """Counts and response times over the incidents `user` may see, detected in `period`.

    `system` must be one the user may see (the callers pick it among `visible_systems`).
    """
    scope: QuerySet[Incident] = incidents_for(user).order_by()
    if system is not None:
        scope = scope.filter(system=system)
    if severity:
        scope = scope.filter(severity=severity)
    within = Q(detected_at__gte=period.since, detected_at__lt=period.until)
    detected = scope.filter(within)

    totals = scope.aggregate(
        open_count=Count("pk", filter=~Q(stage=Stage.CLOSED)), **_timing_aggregates(within)
    )
    system_keys = ("system_id", "system__slug", "system__name")
    by_system = (
        detected.values(*system_keys).annotate(**_timing_aggregates()).order_by("system__name")
    )
    by_severity = detected.values("severity").annotate(**_timing_aggregates()).order_by("severity")
    breakdown = (
        detected.values(*system_keys, "severity")
        .annotate(**_timing_aggregates())
        .order_by("system__name", "system_id", "severity")
    )
    weekly = (
        detected.annotate(week=TruncWeek("detected_at"))
        .values("week")
        .annotate(count=Count("pk"), median=Percentile(RESOLVE.minutes(), 0.5))
        .order_by("week")
    )
    return IncidentMetrics(
        period=period,
        system=system,
        severity=severity or None,
        open_count=totals["open_count"],
        overall=Slice.from_row(totals),
        by_system=[Slice.from_row(row, system=_system(row)) for row in by_system],
        by_severity=[Slice.from_row(row, severity=row["severity"]) for row in by_severity],
        breakdown=[
            Slice.from_row(row, system=_system(row), severity=row["severity"]) for row in breakdown
        ],
        weekly=_weeks(period, list(weekly)),
    )

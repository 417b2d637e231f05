"""The period an evidence pack covers: whole UTC days, first and last day included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError

MAX_DAYS = 3660  # ten years: longer is a typo, not an audit period


@dataclass(frozen=True)
class PackPeriod:
    first_day: date
    last_day: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def label(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    def as_json(self) -> dict[str, str]:
        return {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


def _day(value: object, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"Give a date as YYYY-MM-DD, not {value!r}."}) from None


def parse_period(first: object, last: object) -> PackPeriod:
    """Check a period as typed by a person (form, API, command line); ValidationError if bad."""
    if first in (None, ""):
        raise ValidationError({"from": "Give the first day of the period."})
    if last in (None, ""):
        raise ValidationError({"to": "Give the last day of the period."})
    first_day, last_day = _day(first, "from"), _day(last, "to")
    if last_day < first_day:
        raise ValidationError({"to": "The period ends before it starts."})
    if (last_day - first_day).days > MAX_DAYS:
        raise ValidationError({"to": "A period of ten years at most."})
    return PackPeriod(first_day, last_day)

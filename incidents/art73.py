"""EU AI Act Article 73: when a serious incident must be reported to the market surveillance
authority. The harms, deadlines, articles and labels are read from art73.yaml, kept there and
nowhere else.

- Every deadline that applies to an incident is cited; the shortest binds: 2 days for a
  widespread infringement or harm under Art. 3(49)(b) (73(3)), 10 for a death (73(4)), 15
  otherwise (73(2)). An incident may do several harms at once: a death that also disrupted
  critical infrastructure is due in 2 days.
- A period of days is counted by Regulation 1182/71, Art. 3: from the start of the day after
  awareness, in the organisation's time zone (ORGANISATION_TIME_ZONE), to the end of its last
  day. The deadline shown is the earlier of that and awareness + days x 24 h, so it is never
  late whichever reading an authority takes.
- The duty is met by the first report sent, initial or complete (73(5)): the clock stops
  there, and the report was on time if that first one was sent by the deadline.
- Where sector law already has the system's incidents reported (73(9), medical devices
  73(10)), only an Art. 3(49)(c) infringement is reported under the AI Act: no clock runs for
  the other harms. A deployer informs the provider first (Art. 26(5)); the clock is its outer
  limit should the provider be unreachable.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from django.conf import settings
from django.db.models import Q

if TYPE_CHECKING:
    from governance.models import AISystem
    from incidents.models import Incident

WARN_BEFORE = timedelta(days=2)
RULES_FILE = Path(__file__).with_name("art73.yaml")  # beside this module: the rules it reads


@functools.cache
def rules() -> dict[str, Any]:
    """art73.yaml, as read once per process."""
    with RULES_FILE.open(encoding="utf-8") as file:
        return yaml.safe_load(file)  # type: ignore[no-any-return]


def harm_choices() -> list[tuple[str, str]]:
    return [(key, harm["label"]) for key, harm in rules()["harms"].items()]


def member_state_choices() -> list[tuple[str, str]]:
    return [(code, f"{name} ({code})") for code, name in rules()["member_states"].items()]


def operator_recipient_choices() -> list[tuple[str, str]]:
    """Whom a deployer informs, in the order Art. 26(5) names them."""
    return list(rules()["operator_roles"]["deployer"]["recipients"].items())


def harm_label(key: str) -> str:
    harm = rules()["harms"].get(key)
    return f"{harm['label']} ({harm['article']})" if harm else key


def outside_article_73(incident: Incident) -> str | None:
    """The warning to show when the incident's system is not registered as high-risk."""
    if incident.system.risk_category == "high":
        return None
    return str(rules()["high_risk_only"]["warning"])


def sector_limit(system: AISystem) -> dict[str, Any] | None:
    """The Art. 73(9) or (10) limit the system's reporting is under, if any."""
    limit = rules()["sector_limits"].get(system.reporting_regime)
    return limit if isinstance(limit, dict) else None


def reported_under_article_73(incident: Incident) -> bool:
    """False when a sector limit leaves none of the incident's harms to the AI Act."""
    if sector_limit(incident.system) is None:
        return True
    return rules()["sector_limits"]["reportable_harm"] in incident.harm_categories


def reported_under_article_73_q() -> Q:
    """The incidents `reported_under_article_73` is True of, as a filter."""
    limits = rules()["sector_limits"]
    limited = [key for key, value in limits.items() if isinstance(value, dict)]
    return ~Q(system__reporting_regime__in=limited) | Q(
        harm_categories__contains=[limits["reportable_harm"]]
    )


def operator_duty(system: AISystem) -> dict[str, Any]:
    """The organisation's duty for the system's serious incidents: Art. 73(1) or 26(5)."""
    return rules()["operator_roles"][system.operator_role]  # type: ignore[no-any-return]


def reporting_notices(incident: Incident) -> list[str]:
    """What the war room says above the clock: whether the duty binds, under which law, and
    a deployer's duty, each citing its article."""
    notices = []
    if warning := outside_article_73(incident):
        notices.append(warning)
    if limit := sector_limit(incident.system):
        notices.append(str(limit["notice"]))
        if incident.is_serious and not reported_under_article_73(incident):
            notices.append(str(rules()["sector_limits"]["outside"]))
    if incident.system.operator_role == "deployer":
        duty = operator_duty(incident.system)
        notices += [str(duty["duty"]), str(duty["risk"])]
    return notices


def application_dates() -> list[dict[str, Any]]:
    """When the Act applies (Art. 113), each date as the latest amendment in the file sets it."""
    application = rules()["application"]
    moved = {item["key"]: item for item in application.get("amendments") or []}
    return [{**date, **moved.get(date["key"], {})} for date in application["dates"]]


def organisation_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.ORGANISATION_TIME_ZONE)


@dataclass(frozen=True)
class Deadline:
    key: str
    article: str
    days: int
    applies_to: str


@dataclass(frozen=True)
class ReportingClock:
    aware_at: datetime
    applicable: tuple[Deadline, ...]  # every deadline that applies, the binding one first
    deadline: datetime  # the binding one's, in UTC

    @property
    def days(self) -> int:
        return self.applicable[0].days

    @property
    def article(self) -> str:
        return self.applicable[0].article

    @property
    def citation(self) -> str:
        """Every applicable paragraph, the binding one first: "Art. 73(3); also 73(4), 73(2)"."""
        first, *others = (deadline.article for deadline in self.applicable)
        if not others:
            return first
        return f"{first}; also " + ", ".join(other.removeprefix("Art. ") for other in others)

    @property
    def local_deadline(self) -> datetime:
        return self.deadline.astimezone(organisation_zone())

    @property
    def local_label(self) -> str:
        """The deadline in the organisation's zone, "9 Dec 2026, 00:32 Europe/Brussels"
        (a template's date filter would show it in the site's zone, UTC)."""
        local = self.local_deadline
        return f"{local.day} {local:%b %Y, %H:%M} {settings.ORGANISATION_TIME_ZONE}"

    def remaining(self, now: datetime) -> timedelta:
        return self.deadline - now

    def state(self, now: datetime, first_report: datetime | None) -> str:
        """running, due_soon, overdue; or, once a report is sent, reported or reported_late."""
        if first_report is not None:
            return "reported" if first_report <= self.deadline else "reported_late"
        left = self.remaining(now)
        if left <= timedelta(0):
            return "overdue"
        return "due_soon" if left <= WARN_BEFORE else "running"


def applicable_deadlines(
    harms: list[str] | tuple[str, ...], *, death: bool, widespread: bool
) -> tuple[Deadline, ...]:
    """The Art. 73 deadlines that apply to these harms, shortest first."""
    deadlines = {item["key"]: Deadline(**item) for item in rules()["deadlines"]}
    applies = [deadlines["general"]]
    if death:
        applies.append(deadlines["death"])
    if widespread or "critical_infrastructure" in harms:
        applies.append(deadlines["widespread_or_infrastructure"])
    return tuple(sorted(applies, key=lambda deadline: deadline.days))


def deadline_after(aware_at: datetime, days: int, zone: zoneinfo.ZoneInfo) -> datetime:
    """The earlier of awareness + days x 24 h and the end of the last of `days` days counted
    from the day after awareness in `zone` (Regulation 1182/71, Art. 3), in UTC."""
    elapsed = aware_at + timedelta(days=days)
    last_day = aware_at.astimezone(zone).date() + timedelta(days=days)
    day_ends = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
    return min(elapsed, day_ends).astimezone(zoneinfo.ZoneInfo("UTC"))


def reporting_clock(incident: Incident) -> ReportingClock | None:
    """The Art. 73 deadline for a serious incident, from the time of awareness."""
    if not incident.is_serious or incident.aware_at is None:
        return None
    harms, death = list(incident.harm_categories), incident.involves_death
    if sector_limit(incident.system) is not None:  # only 3(49)(c) is the AI Act's to report
        if not reported_under_article_73(incident):
            return None
        harms, death = [rules()["sector_limits"]["reportable_harm"]], False
    applicable = applicable_deadlines(
        harms, death=death, widespread=incident.widespread_infringement
    )
    deadline = deadline_after(incident.aware_at, applicable[0].days, organisation_zone())
    return ReportingClock(incident.aware_at, applicable, deadline)


def first_report_at(incident: Incident) -> datetime | None:
    """When the first report (initial or complete: Art. 73(5)) was sent, if one was."""
    sent = [at for at in (incident.initial_report_sent_at, incident.complete_report_sent_at) if at]
    return min(sent) if sent else None


def reported_in_time(incident: Incident, now: datetime) -> bool | None:
    """True or False once it is known; None while the clock still runs (or none runs)."""
    clock = reporting_clock(incident)
    if clock is None:
        return None
    first = first_report_at(incident)
    if first is not None:
        return first <= clock.deadline
    return False if now > clock.deadline else None

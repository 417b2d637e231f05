"""EU AI Act Article 73: when a serious incident must be reported to the market surveillance
authority. The deadlines are the regulation's, kept here and nowhere else.

Regulation (EU) 2024/1689, Art. 73:
- (2) immediately after a causal link is established (or its reasonable likelihood), and
  not later than 15 days after the provider or deployer becomes aware of the incident;
- (3) not later than 2 days after awareness in the event of a widespread infringement or a
  serious incident under Art. 3(49)(b) (serious and irreversible disruption of the
  management or operation of critical infrastructure);
- (4) not later than 10 days after awareness in the event of the death of a person;
- (5) an initial report that is incomplete may be submitted, followed by a complete one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.models import HarmCategory, Incident

GENERAL_DAYS = 15  # Art. 73(2)
DEATH_DAYS = 10  # Art. 73(4)
WIDESPREAD_OR_INFRASTRUCTURE_DAYS = 2  # Art. 73(3)
WARN_BEFORE = timedelta(days=2)


@dataclass(frozen=True)
class ReportingClock:
    deadline: datetime
    days: int
    article: str

    def remaining(self, now: datetime) -> timedelta:
        return self.deadline - now

    def state(self, now: datetime, reported: bool) -> str:
        if reported:
            return "reported"
        left = self.remaining(now)
        if left <= timedelta(0):
            return "overdue"
        return "due_soon" if left <= WARN_BEFORE else "running"


def reporting_clock(incident: Incident) -> ReportingClock | None:
    """The Art. 73 deadline for a serious incident, from the time of awareness."""
    if not incident.is_serious or incident.aware_at is None:
        return None
    if incident.widespread_infringement or (
        incident.harm_category == HarmCategory.CRITICAL_INFRASTRUCTURE
    ):
        days, article = WIDESPREAD_OR_INFRASTRUCTURE_DAYS, "Art. 73(3)"
    elif incident.involves_death:
        days, article = DEATH_DAYS, "Art. 73(4)"
    else:
        days, article = GENERAL_DAYS, "Art. 73(2)"
    return ReportingClock(incident.aware_at + timedelta(days=days), days, article)

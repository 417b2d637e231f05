"""What incidents put on the home page (governance.dashboard): open incidents by severity,
serious-incident reporting clocks running, action items overdue. Six queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Case, Count, IntegerField, Value, When
from django.urls import reverse
from django.utils import timezone

from governance.dashboard import LIST_SIZE, Contribution, Tile
from incidents.art73 import ReportingClock, reported_under_article_73_q, reporting_clock
from incidents.models import ActionItem, ActionItemStatus, Incident, Severity, Stage
from incidents.queries import incidents_for

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class ClockRow:
    incident: Incident
    clock: ReportingClock
    state: str  # running, due_soon, overdue


_SEVERITY_RANK = Case(
    *[When(severity=s.value, then=Value(n)) for n, s in enumerate(Severity)],
    output_field=IntegerField(),
)


def home_contribution(user: User) -> Contribution:
    now = timezone.now()
    visible = incidents_for(user)
    open_incidents = visible.exclude(stage=Stage.CLOSED)
    counts = dict(
        open_incidents.order_by()
        .values("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    by_severity = [(s.value, s.label, counts.get(s.value, 0)) for s in Severity]
    worst = list(
        open_incidents.annotate(rank=_SEVERITY_RANK).order_by("rank", "-detected_at")[:LIST_SIZE]
    )

    # A serious incident's Art. 73 clock runs from awareness until the first report, initial
    # or complete (Art. 73(5)), whatever stage the incident has reached.
    reporting = visible.filter(
        reported_under_article_73_q(),
        is_serious=True,
        aware_at__isnull=False,
        initial_report_sent_at__isnull=True,
        complete_report_sent_at__isnull=True,
    )
    clocks_running = reporting.count()
    # Deadlines differ (2, 10 or 15 days): the nearest among the earliest-aware ones.
    clocks: list[ClockRow] = []
    for incident in reporting.order_by("aware_at")[: LIST_SIZE * 2]:
        clock = reporting_clock(incident)
        if clock is not None:
            clocks.append(ClockRow(incident, clock, clock.state(now, first_report=None)))
    clocks.sort(key=lambda row: row.clock.deadline)
    clocks = clocks[:LIST_SIZE]

    overdue = ActionItem.objects.filter(
        incident__in=visible.values("pk"), due_date__lt=now.date()
    ).exclude(status=ActionItemStatus.DONE)
    overdue_count = overdue.count()
    overdue_items = list(
        overdue.select_related("incident", "owner").order_by("due_date", "id")[:LIST_SIZE]
    )

    open_total = sum(n for _, _, n in by_severity)
    critical = counts.get(Severity.SEV1.value, 0)
    incidents_url = reverse("incidents:incident-list")
    return Contribution(
        tiles=[
            Tile(
                "Open incidents",
                open_total,
                incidents_url,
                note=f"{critical} SEV1" if critical else "none critical",
                alert=critical > 0,
            ),
            Tile(
                "Reporting clocks",
                clocks_running,
                incidents_url,
                note="Art. 73 deadlines running",
                alert=any(row.state in ("overdue", "due_soon") for row in clocks),
            ),
            Tile(
                "Overdue actions",
                overdue_count,
                reverse("incidents:action-items"),
                note="follow-ups past due",
                alert=overdue_count > 0,
            ),
        ],
        panels=[
            (
                "incidents/_home_incidents.html",
                {
                    "by_severity": by_severity,
                    "open_total": open_total,
                    "worst": worst,
                    "clocks": clocks,
                    "clocks_running": clocks_running,
                    "overdue_items": overdue_items,
                    "overdue_count": overdue_count,
                    "today": now.date(),
                },
            )
        ],
    )

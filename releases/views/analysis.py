"""The release page's metric-analysis panel: each analysed stage with its measurements, and
the plan's PromQL triggers, as they stand. htmx polls it while something is measuring (the
page itself stays cached: governance/pagecache.py); it reads in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from governance.http import AuthenticatedHttpRequest
from releases import queries
from releases.analysis.condition import parse_condition
from releases.models import AnalysisStatus, MeasurementPhase, RolloutStep, TriggerOutcome

POLL_RUNNING = 3  # seconds between polls while a stage is measured
POLL_TRIGGERS = 15  # while only PromQL triggers are evaluated (beat's pace)
CHART_W, CHART_H, PAD = 360, 72, 6


@dataclass
class Chart:
    """An SVG sparkline of an analysis's values (attributes only: the CSP allows no style)."""

    points: str
    dots: list[dict[str, Any]]
    threshold_y: float | None
    low: str
    high: str


def _chart(measurements: list[Any], condition: str) -> Chart | None:
    values = []
    for m in measurements:
        try:
            values.append(Decimal(m.value) if m.value else None)
        except InvalidOperation:
            values.append(None)
    known = [v for v in values if v is not None and v.is_finite()]
    try:
        bound = parse_condition(condition).groups[0][0].number
    except Exception:  # a condition stored before it parsed: no line drawn
        bound = None
    if not known:
        return None
    low, high = (
        min([*known, *([bound] if bound is not None else [])]),
        max([*known, *([bound] if bound is not None else [])]),
    )
    span = (high - low) or Decimal(1)
    step = (CHART_W - 2 * PAD) / max(len(measurements) - 1, 1)

    def y(value: Decimal) -> float:
        return round(CHART_H - PAD - float((value - low) / span) * (CHART_H - 2 * PAD), 1)

    dots, line = [], []
    for n, (m, value) in enumerate(zip(measurements, values, strict=True)):
        x = round(PAD + n * step, 1) if len(measurements) > 1 else CHART_W / 2
        if value is None or not value.is_finite():
            dots.append(
                {"x": x, "y": CHART_H - PAD, "phase": m.phase, "title": m.get_phase_display()}
            )
            continue
        line.append(f"{x},{y(value)}")
        dots.append(
            {
                "x": x,
                "y": y(value),
                "phase": m.phase,
                "title": f"{m.value} · {m.get_phase_display()}",
            }
        )
    return Chart(
        points=" ".join(line),
        dots=dots,
        threshold_y=y(bound) if bound is not None else None,
        low=f"{low.normalize():f}",
        high=f"{high.normalize():f}",
    )


def _row(step: RolloutStep) -> dict[str, Any]:
    analysis = step.analysis
    newest_first = list(analysis.measurements.all())[: queries.ANALYSIS_ROWS]
    measurements = list(reversed(newest_first))
    counted = [m for m in measurements if m.phase != MeasurementPhase.ERROR]
    tally = {phase: 0 for phase in MeasurementPhase.values}
    for m in measurements:
        tally[m.phase] += 1
    return {
        "step": step,
        "analysis": analysis,
        "measurements": newest_first[:12],
        "more": max(len(newest_first) - 12, 0),
        "taken": len(counted),
        "tally": tally,
        "chart": _chart(measurements, analysis.success_condition),
        "progress": min(100, round(100 * len(counted) / max(analysis.count, 1))),
    }


@require_GET
def release_analysis(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    release, steps, triggers = queries.release_analyses(pk, request.user)
    rows = [_row(step) for step in steps]
    running = any(row["analysis"].status == AnalysisStatus.RUNNING for row in rows)
    now = timezone.now()
    trigger_rows = [
        {
            "trigger": t,
            "held_minutes": int((now - t.holding_since).total_seconds() // 60)
            if t.holding_since
            else None,
            "is_alarm": t.last_outcome in (TriggerOutcome.HOLDING, TriggerOutcome.FIRED),
        }
        for t in triggers
    ]
    poll = POLL_RUNNING if running else (POLL_TRIGGERS if triggers else None)
    context = {"release": release, "rows": rows, "triggers": trigger_rows, "poll": poll}
    return render(request, "releases/_analysis.html", context)

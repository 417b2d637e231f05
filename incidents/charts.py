"""Server-rendered SVG charts: no chart library, nothing for the browser to run.

Every piece of text that reaches the markup goes through `escape`, so a system named
`<script>` is drawn as text, and the result parses as XML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from governance.evidence.report_charts import nice_ticks
from incidents.response_times import humanise_minutes

if TYPE_CHECKING:
    from incidents.response_times import Week

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 52, WIDTH - 76, 44, HEIGHT - 34
BAR_FILL, BAR_LINE = "#a9bcf5", "#2f5bea"
LINE = "#e04f16"
INK, MUTED, GRID = "#344054", "#667085", "#eaecf0"
# Minute steps that read as round durations on the time axis: 5 min … 1 week.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 2880, 4320, 10080)
TICKS = 4


def _n(value: float) -> str:
    """A coordinate, short: 12.0 → '12', 12.345 → '12.3'."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _day(value: date) -> str:
    return f"{value.day} {value:%b}"


def _long_day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def count_ticks(maximum: int) -> list[int]:
    """0, step, … up to the first multiple of a 1-2-5 step at or above `maximum` (the report's
    algorithm: a count's step is never under one)."""
    return [int(tick) for tick in nice_ticks(max(maximum, 0))]


def time_ticks(maximum: float) -> list[float]:
    """0, step, … in minutes, with a step that reads as a round duration."""
    if maximum <= 0:
        return [0, 60]
    step: float = next((s for s in TIME_STEPS if s * TICKS >= maximum), 0)
    if not step:  # beyond a month: whole weeks
        step = TIME_STEPS[-1] * math.ceil(maximum / TICKS / TIME_STEPS[-1])
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _time_label(minutes: float) -> str:
    return "0" if minutes == 0 else humanise_minutes(minutes)


def _week_title(week: Week) -> str:
    noun = "incident" if week.count == 1 else "incidents"
    resolve = (
        f"median time to resolve {week.resolve_median_text}"
        if week.resolve_median is not None
        else "none resolved"
    )
    return f"Week of {_long_day(week.start)}: {week.count} {noun}; {resolve}"


def weekly_chart(weeks: Sequence[Week], *, subject: str) -> SafeString:
    """Bars: incidents detected per week (left axis). Line: their median time to resolve
    (right axis). `subject` names what is charted, e.g. the system and the period."""
    title = f"Incidents per week and median time to resolve: {subject}"
    total = sum(w.count for w in weeks)
    medians = [w.resolve_median for w in weeks if w.resolve_median is not None]
    counts = count_ticks(max((w.count for w in weeks), default=0))
    times = time_ticks(max(medians, default=0))
    plot_w, plot_h = RIGHT - LEFT, BOTTOM - TOP
    slot = plot_w / max(len(weeks), 1)
    bar_w = min(slot * 0.62, 34)

    def y_count(value: float) -> float:
        return BOTTOM - plot_h * value / counts[-1]

    def y_time(value: float) -> float:
        return BOTTOM - plot_h * value / times[-1]

    if weeks:
        busiest = max(weeks, key=lambda w: w.count)
        summary = (
            f"{total} incident{'s' if total != 1 else ''} over {len(weeks)} weeks, "
            f"from the week of {_long_day(weeks[0].start)}"
        )
        if total:
            summary += f"; the busiest week was {_long_day(busiest.start)} with {busiest.count}"
        summary += "."
    else:
        summary = "No weeks to show."
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
        f'font-size="11" fill="{MUTED}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(summary)}</desc>",
    ]

    # Legend, above the plot.
    parts += [
        '<g class="chart-legend" font-size="12">',
        f'<rect x="{LEFT}" y="8" width="12" height="12" rx="2" fill="{BAR_FILL}" '
        f'stroke="{BAR_LINE}" stroke-width="1"/>',
        f'<text x="{LEFT + 18}" y="18" fill="{INK}">Incidents detected</text>',
        f'<line x1="{LEFT + 150}" y1="14" x2="{LEFT + 172}" y2="14" stroke="{LINE}" '
        f'stroke-width="2.5" stroke-linecap="round"/>',
        f'<circle cx="{LEFT + 161}" cy="14" r="3.5" fill="#fff" stroke="{LINE}" stroke-width="2"/>',
        f'<text x="{LEFT + 180}" y="18" fill="{INK}">Median time to resolve</text>',
        "</g>",
    ]

    # Grid and the left axis (counts), the right axis (time).
    parts.append('<g class="chart-axis" aria-hidden="true">')
    for count in counts:
        at = _n(y_count(count))
        parts.append(
            f'<line x1="{LEFT}" y1="{at}" x2="{RIGHT}" y2="{at}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(f'<text x="{LEFT - 8}" y="{at}" dy="4" text-anchor="end">{count}</text>')
    for minutes in times:
        at = _n(y_time(minutes))
        label = escape(_time_label(minutes))
        parts.append(f'<text x="{RIGHT + 8}" y="{at}" dy="4" fill="{LINE}">{label}</text>')
    parts.append(
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#d0d5dd" '
        f'stroke-width="1"/>'
    )
    label_every = max(1, math.ceil(len(weeks) / 12))
    for index, week in enumerate(weeks):
        if index % label_every:
            continue
        centre = _n(LEFT + slot * (index + 0.5))
        label = escape(_day(week.start))
        parts.append(f'<text x="{centre}" y="{BOTTOM + 18}" text-anchor="middle">{label}</text>')
    parts.append("</g>")

    # Bars, each week a group whose <title> is the tooltip for its whole column.
    parts.append('<g class="chart-bars">')
    for index, week in enumerate(weeks):
        x0 = LEFT + slot * index
        top = y_count(week.count)
        parts += [
            f'<g class="chart-week"><title>{escape(_week_title(week))}</title>',
            f'<rect class="chart-hit" x="{_n(x0)}" y="{TOP}" width="{_n(slot)}" '
            f'height="{plot_h}" fill="transparent"/>',
        ]
        if week.count:
            parts.append(
                f'<rect class="chart-bar" x="{_n(x0 + (slot - bar_w) / 2)}" y="{_n(top)}" '
                f'width="{_n(bar_w)}" height="{_n(BOTTOM - top)}" rx="3" fill="{BAR_FILL}"/>'
            )
            # The count over its bar: the figure is read without hovering.
            parts.append(
                f'<text class="chart-value" x="{_n(x0 + slot / 2)}" y="{_n(top - 5)}" '
                f'text-anchor="middle" fill="{INK}" font-weight="600">{week.count}</text>'
            )
        parts.append("</g>")
    parts.append("</g>")

    # The median line: broken where a week has nothing resolved, so no gap is drawn over.
    points: list[tuple[float, float, Week]] = []
    runs: list[list[tuple[float, float]]] = []
    previous = -2
    for index, week in enumerate(weeks):
        if week.resolve_median is None:
            continue
        point = (LEFT + slot * (index + 0.5), y_time(week.resolve_median))
        points.append((*point, week))
        if index == previous + 1:
            runs[-1].append(point)
        else:
            runs.append([point])
        previous = index
    path = " ".join(
        "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in run) for run in runs if len(run) > 1
    )
    if path:
        parts.append(
            f'<path class="chart-line" d="{path}" fill="none" stroke="{LINE}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round"/>'
        )
    parts.append('<g class="chart-points">')
    for cx, cy, week in points:
        parts.append(
            f'<circle class="chart-point" cx="{_n(cx)}" cy="{_n(cy)}" r="3.5" fill="#fff" '
            f'stroke="{LINE}" stroke-width="2"><title>{escape(_week_title(week))}</title></circle>'
        )
    parts.append("</g>")

    if not total:
        parts.append(
            f'<text x="{_n(LEFT + plot_w / 2)}" y="{_n(TOP + plot_h / 2)}" text-anchor="middle" '
            f'font-size="13" fill="{MUTED}">No incidents in this period</text>'
        )
    parts.append("</svg>")
    # Safe: every text and attribute value above is a number of ours or went through escape().
    return mark_safe("".join(parts))  # noqa: S308


def weekly_figures(weeks: Sequence[Week]) -> list[dict[str, str]]:
    """The chart's figures, week by week, for the list shown beside it."""
    return [
        {
            "week": _day(week.start),
            "week_long": _long_day(week.start),
            "count": str(week.count),
            "resolve": week.resolve_median_text if week.resolve_median is not None else "",
        }
        for week in weeks
    ]

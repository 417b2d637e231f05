"""Bar charts of the report as SVG markup: nothing to load, nothing for a browser to run.

Labels go through `escape`, so whatever an incident or a week is called, the markup stays
well-formed (the SVG is checked as XML by the tests).
"""

from __future__ import annotations

import math

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, WIDTH - 16, 20, HEIGHT - 44
BAR, INK, MUTED, GRID = "#2f5bea", "#1d2939", "#667085", "#eaecf0"
TICKS = 4


def nice_ticks(maximum: float) -> list[float]:
    """0, step, … with a 1-2-5 step, the last at or above `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if step < 1 and maximum >= 1:
        step = 1
    top = math.ceil(maximum / step) * step
    count = round(top / step)
    return [round(i * step, 6) for i in range(count + 1)]


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def svg_bars(points: list[tuple[str, float]], *, unit: str, title: str) -> SafeString:
    if not points:
        # The one piece of text, the title, is escaped.
        return mark_safe(  # noqa: S308
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 60" role="img" '
            f'aria-label="{escape(title)}: no data"><text x="{WIDTH / 2}" y="34" '
            f'text-anchor="middle" fill="{MUTED}" font-size="13">Nothing to chart in this '
            "period.</text></svg>"
        )
    ticks = nice_ticks(max(value for _, value in points))
    top = ticks[-1] or 1
    span_y = BOTTOM - TOP
    slot = (RIGHT - LEFT) / len(points)
    bar = max(2.0, min(48.0, slot * 0.7))
    every = max(1, math.ceil(len(points) / 14))  # at most ~14 labels on the axis
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" font-family="Helvetica, Arial, sans-serif">'
    ]
    for tick in ticks:
        y = BOTTOM - tick / top * span_y
        parts.append(
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{_n(tick)}</text>'
        )
    for index, (label, value) in enumerate(points):
        x = LEFT + slot * index + (slot - bar) / 2
        height = value / top * span_y
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(BOTTOM - height)}" width="{_n(bar)}" '
            f'height="{_n(height)}" fill="{BAR}" rx="2"><title>{escape(label)}: '
            f"{_n(value)} {escape(unit)}</title></rect>"
        )
        if value and len(points) <= 26:
            parts.append(
                f'<text x="{_n(x + bar / 2)}" y="{_n(BOTTOM - height - 4)}" text-anchor="middle" '
                f'font-size="10" fill="{INK}">{_n(value)}</text>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{_n(x + bar / 2)}" y="{BOTTOM + 16}" text-anchor="middle" '
                f'font-size="10" fill="{MUTED}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}" stroke="{MUTED}"/>'
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="11" fill="{MUTED}">{escape(unit)}</text>'
        "</svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308  (every label went through escape)

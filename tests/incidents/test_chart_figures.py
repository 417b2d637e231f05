"""The incidents chart shows its figures without hovering: counts over the bars, and each
week's count and median time to resolve listed beside it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from incidents.charts import weekly_chart, weekly_figures
from incidents.response_times import Week

SVG = "{http://www.w3.org/2000/svg}"
WEEKS = [Week(date(2026, 3, 2), 3, 125.0), Week(date(2026, 3, 9), 0, None)]


def test_each_bar_carries_its_count():
    root = ET.fromstring(str(weekly_chart(WEEKS, subject="fraud")))
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["3"]  # a week without incidents has no bar, and no label


def test_the_figures_list_every_week():
    assert weekly_figures(WEEKS) == [
        {"week": "2 Mar", "week_long": "2 Mar 2026", "count": "3", "resolve": "2 h 5 min"},
        {"week": "9 Mar", "week_long": "9 Mar 2026", "count": "0", "resolve": ""},
    ]

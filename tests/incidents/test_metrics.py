"""The incidents dashboard and its API: the numbers, the period, who sees what, the chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance import services as governance
from governance.roles import Role
from incidents import services
from incidents.charts import weekly_chart
from incidents.models import Incident
from incidents.response_times import Period, Week, humanise_minutes, resolve_period
from tests.matrix import EVERYONE, Route, check_route

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
TODAY = NOW.date()
PAGE = "/incidents/dashboard/"
API = "/api/incidents/metrics/"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def chat(registrar, oncall_lead):
    system = governance.create_system(
        actor=registrar,
        name="Support chatbot",
        slug="chat",
        intended_purpose="Answers customers.",
        risk_category="limited",
    )
    governance.grant_role(actor=registrar, system=system, role=Role.ONCALL_LEAD, user=oncall_lead)
    return system


def declare(actor, system, severity, days_ago, stage="detected", **minutes):  # type: ignore[no-untyped-def]
    """An incident detected `days_ago` days before NOW, its stamps `minutes` after detection."""
    detected = NOW - timedelta(days=days_ago)
    incident = services.declare_incident(
        actor=actor,
        system=system,
        title=f"{severity} {days_ago} days ago",
        severity=severity,
        category="performance",
        source="user_report" if actor else "alert",
        detected_at=detected,
    )
    # Declaring by a person acknowledges at once; the stamps given here are the story instead.
    stamps = {"acknowledged_at": None} | {
        f"{name}_at": detected + timedelta(minutes=m) for name, m in minutes.items()
    }
    Incident.objects.filter(pk=incident.pk).update(stage=stage, **stamps)
    return incident


@pytest.fixture
def history(fraud, chat, other_system, oncall_lead):
    """Five incidents in the last 90 days that `owner` sees, one older, one hidden from them.

    Time to acknowledge 4, 10, 6, 20, 2; contain 30, 50, 40; roll back 60, 100;
    resolve 120 (recovered), 300 (recovery skipped: closed), 200.
    """
    lead = oncall_lead
    declare(lead, fraud, "sev1", 10, "closed", acknowledged=4, contained=30, rolled_back=60,
            recovered=120, closed=2000)  # fmt: skip
    declare(lead, fraud, "sev1", 20, "closed", acknowledged=10, contained=50, closed=300)
    declare(lead, fraud, "sev1", 5, "containment", acknowledged=6)
    declare(lead, fraud, "sev2", 3, "review", acknowledged=20, contained=40, rolled_back=100,
            recovered=200)  # fmt: skip
    declare(lead, chat, "sev2", 1, acknowledged=2)
    declare(lead, fraud, "sev1", 100, "closed", acknowledged=1000, closed=5000)
    declare(None, other_system, "sev1", 2, acknowledged=1)


def timing(count, median, mean, p90):  # type: ignore[no-untyped-def]
    return {"count": count, "median_minutes": median, "mean_minutes": mean, "p90_minutes": p90}


NO_TIMING = timing(0, None, None, None)


def get_json(client, query=""):  # type: ignore[no-untyped-def]
    response = client.get(f"{API}{query}")
    assert response.status_code == 200, response.content
    return response.json()


# ---- the numbers -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_computes_medians_means_and_p90_over_the_incidents_that_got_there(
    client, owner, history
):
    client.force_login(owner)
    body = get_json(client)
    assert body["period"] == {"days": 90, "from": "2025-12-19", "to": "2026-03-18"}
    assert body["open_incidents"] == 3
    summary = body["summary"]
    assert summary["count"] == 5
    # percentile_cont interpolates: p90 of 2, 4, 6, 10, 20 is 10 + 0.6 * 10.
    assert summary["acknowledge"] == timing(5, 6.0, 8.4, 16.0)
    assert summary["contain"] == timing(3, 40.0, 40.0, 48.0)
    assert summary["roll_back"] == timing(2, 80.0, 80.0, 96.0)
    # Resolved: recovered (120, 200), or closed when recovery was skipped (300).
    assert summary["resolve"] == timing(3, 200.0, 206.7, 280.0)


@pytest.mark.django_db
def test_it_breaks_the_numbers_down_per_system_and_severity(client, owner, history):
    client.force_login(owner)
    body = get_json(client)
    systems = {row["system"]: row for row in body["by_system"]}
    assert [row["system"] for row in body["by_system"]] == ["fraud", "chat"]  # by name
    assert systems["fraud"]["count"] == 4
    assert systems["fraud"]["acknowledge"] == timing(4, 8.0, 10.0, 17.0)
    assert systems["fraud"]["system_name"] == "Card fraud screening"
    assert systems["chat"]["count"] == 1
    assert systems["chat"]["acknowledge"] == timing(1, 2.0, 2.0, 2.0)
    assert systems["chat"]["resolve"] == NO_TIMING

    severities = {row["severity"]: row for row in body["by_severity"]}
    assert severities["sev1"]["count"] == 3
    assert severities["sev1"]["acknowledge"]["median_minutes"] == 6.0
    assert severities["sev1"]["resolve"] == timing(2, 210.0, 210.0, 282.0)
    assert severities["sev2"]["acknowledge"] == timing(2, 11.0, 11.0, 18.2)

    cells = {(row["system"], row["severity"]): row for row in body["breakdown"]}
    assert set(cells) == {("fraud", "sev1"), ("fraud", "sev2"), ("chat", "sev2")}
    assert cells[("fraud", "sev1")]["contain"] == timing(2, 40.0, 40.0, 48.0)
    assert cells[("fraud", "sev2")]["roll_back"] == timing(1, 100.0, 100.0, 100.0)
    assert cells[("chat", "sev2")]["count"] == 1


@pytest.mark.django_db
def test_the_system_and_severity_filters_narrow_every_figure(client, owner, history):
    client.force_login(owner)
    body = get_json(client, "?system=fraud&severity=sev1")
    assert body["system"] == "fraud"
    assert body["severity"] == "sev1"
    assert body["summary"]["count"] == 3
    assert body["open_incidents"] == 1  # the one still in containment
    assert [row["system"] for row in body["by_system"]] == ["fraud"]
    assert [row["severity"] for row in body["by_severity"]] == ["sev1"]


@pytest.mark.django_db
def test_the_weekly_series_covers_every_week_of_the_period(client, owner, history):
    client.force_login(owner)
    weekly = get_json(client)["weekly"]
    assert weekly[0]["week"] == "2025-12-15"  # the Monday of the period's first day
    assert weekly[-1]["week"] == "2026-03-16"
    assert len(weekly) == 14
    busy = {row["week"]: row for row in weekly if row["count"]}
    assert busy == {
        "2026-02-23": {"week": "2026-02-23", "count": 1, "resolve_median_minutes": 300.0},
        "2026-03-02": {"week": "2026-03-02", "count": 1, "resolve_median_minutes": 120.0},
        "2026-03-09": {"week": "2026-03-09", "count": 2, "resolve_median_minutes": 200.0},
        "2026-03-16": {"week": "2026-03-16", "count": 1, "resolve_median_minutes": None},
    }


# ---- the period ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "count", "period"),
    [
        ("?period=30", 5, {"days": 30, "from": "2026-02-17", "to": "2026-03-18"}),
        ("?period=365", 6, {"days": 365, "from": "2025-03-19", "to": "2026-03-18"}),
        ("?from=2026-03-06&to=2026-03-14", 2,
         {"days": None, "from": "2026-03-06", "to": "2026-03-14"}),
        ("?period=30&to=2026-03-10", 2, {"days": None, "from": "2026-02-09", "to": "2026-03-10"}),
        ("?from=2026-03-14", 2, {"days": None, "from": "2026-03-14", "to": "2026-03-18"}),
    ],
)  # fmt: skip
def test_the_period_filter_counts_by_detection_date(client, owner, history, query, count, period):
    client.force_login(owner)
    body = get_json(client, query)
    assert body["period"] == period
    assert body["summary"]["count"] == count


def test_a_missing_start_is_the_period_before_the_end():
    assert resolve_period(today=TODAY) == Period(date(2025, 12, 19), TODAY, 90)
    assert resolve_period(days=30, end=date(2026, 1, 31), today=TODAY) == Period(
        date(2026, 1, 2), date(2026, 1, 31), None
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (None, "—"),
        (0, "< 1 min"),
        (0.4, "< 1 min"),
        (4, "4 min"),
        (59.6, "1 h"),
        (130, "2 h 10 min"),
        (1500, "1 d 1 h"),
        (2880, "2 d"),
    ],
)
def test_durations_read_like_a_person_would_say_them(minutes, text):
    assert humanise_minutes(minutes) == text


# ---- the page --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_tiles_chart_and_table(client, owner, history):
    client.force_login(owner)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    tiles = re.findall(r'<span class="insights-value[^"]*">([^<]*)</span>', page)
    # Open now, incidents, then the medians: 6 min, 40 min, 1 h 20 min, 3 h 20 min.
    assert tiles == ["3", "5", "6 min", "40 min", "1 h 20 min", "3 h 20 min"]
    assert 'role="img"' in page
    assert "Support chatbot" in page
    assert "SEV2 · high" in page
    assert "Hidden system" not in page


@pytest.mark.django_db
def test_an_empty_period_says_so(client, viewer, fraud):
    client.force_login(viewer)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "No incidents in this period" in page
    assert re.findall(r'<span class="insights-value[^"]*">([^<]*)</span>', page) == [
        "0", "0", "—", "—", "—", "—"
    ]  # fmt: skip


# ---- who sees what ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_outsider_sees_none_of_the_incidents(client, outsider, history):
    client.force_login(outsider)
    body = get_json(client)
    assert body["summary"]["count"] == 0
    assert body["open_incidents"] == 0
    assert body["by_system"] == body["by_severity"] == body["breakdown"] == []
    assert sum(week["count"] for week in body["weekly"]) == 0
    page = client.get(PAGE).content.decode()
    assert "Card fraud screening" not in page
    assert "Support chatbot" not in page
    assert "No incidents in this period" in page


@pytest.mark.django_db
def test_a_viewer_sees_their_system_only(client, viewer, history):
    client.force_login(viewer)
    body = get_json(client)
    assert [row["system"] for row in body["by_system"]] == ["fraud"]
    assert body["summary"]["count"] == 4


@pytest.mark.django_db
def test_a_system_you_cannot_see_is_a_bad_filter_not_a_peek(client, viewer, history):
    client.force_login(viewer)
    for system in ("hidden", "chat"):
        assert client.get(f"{API}?system={system}").status_code == 400
        response = client.get(f"{PAGE}?system={system}")
        assert response.status_code == 400
        assert "No such system among those you can see." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    [
        Route("dashboard", "GET", PAGE, EVERYONE),
        Route("metrics api", "GET", API, EVERYONE, api=True),
    ],
    ids=lambda route: route.name,
)
def test_the_role_matrix(client, people, history, route):
    # Everyone signed in gets the figures of their own systems; anonymous is sent to log in.
    assert check_route(route, client, people, {}) == []


# ---- bad input -------------------------------------------------------------------------------

BAD = [
    ("period=45", "period"),
    ("period=abc", "period"),
    ("from=2026-13-01", "from"),
    ("to=yesterday", "to"),
    ("from=2026-03-10&to=2026-03-01", "to"),
    ("from=1900-01-01", "from"),
    ("from=2023-01-01&to=2026-01-01", "from"),
    ("system=nope", "system"),
    ("system=%00", "system"),
    ("system=%3Cscript%3E", "system"),
    ("severity=sev9", "severity"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "field"), BAD)
def test_bad_parameters_are_a_400_that_names_the_field(client, owner, history, query, field):
    client.force_login(owner)
    api = client.get(f"{API}?{query}")
    assert api.status_code == 400
    assert field in api.json()
    page = client.get(f"{PAGE}?{query}")
    assert page.status_code == 400
    content = page.content.decode()
    assert "These filters cannot be used" in content
    assert f"<strong>{field}</strong>" in content
    assert "<svg" not in content.split('id="dashboard"')[1]  # no figures for a bad query


# ---- query count -----------------------------------------------------------------------------


def bulk_incidents(systems, count: int) -> None:  # type: ignore[no-untyped-def]
    """Volume for the query-count test: rows as the services would have left them."""
    rows = []
    for n in range(count):
        detected = NOW - timedelta(days=n % 80, minutes=n)
        rows.append(
            Incident(
                system=systems[n % len(systems)],
                title=f"bulk {n}",
                severity=f"sev{n % 4 + 1}",
                category="drift",
                source="alert",
                stage="closed" if n % 3 else "containment",
                detected_at=detected,
                acknowledged_at=detected + timedelta(minutes=n % 17),
                contained_at=detected + timedelta(minutes=30 + n % 11) if n % 2 else None,
                rolled_back_at=detected + timedelta(minutes=90) if n % 5 == 0 else None,
                recovered_at=detected + timedelta(minutes=100 + n) if n % 3 else None,
                closed_at=detected + timedelta(days=1) if n % 3 else None,
            )
        )
    Incident.objects.bulk_create(rows)


def queries_for(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", [PAGE, API, f"{PAGE}?system=fraud&period=365", f"{API}?system=chat"]
)
def test_the_query_count_does_not_grow_with_incidents(client, owner, fraud, chat, path):
    client.force_login(owner)
    client.get(path)  # warm process-wide caches (content types, permissions)
    bulk_incidents([fraud], 5)
    few = queries_for(client, path)
    bulk_incidents([fraud, chat], 195)
    assert Incident.objects.count() == 200
    many = queries_for(client, path)
    assert many == few


# ---- the chart -------------------------------------------------------------------------------


def test_the_chart_is_well_formed_accessible_svg_that_escapes_text():
    weeks = [
        Week(date(2026, 3, 2), 3, 125.0),
        Week(date(2026, 3, 9), 0, None),
        Week(date(2026, 3, 16), 1, 12.0),
    ]
    subject = """<script>alert("x")</script> & 'friends'"""
    svg = str(weekly_chart(weeks, subject=subject))
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert subject in root.get("aria-label", "")
    assert subject in root.findtext(f"{SVG}title", "")
    tooltips = [title.text for title in root.iter(f"{SVG}title")]
    assert "Week of 2 Mar 2026: 3 incidents; median time to resolve 2 h 5 min" in tooltips
    assert "Week of 9 Mar 2026: 0 incidents; none resolved" in tooltips
    assert len(root.findall(f".//{SVG}rect[@class='chart-bar']")) == 2  # no bar for zero
    legend = [text.text for text in root.iter(f"{SVG}text")]
    assert "Incidents detected" in legend
    assert "Median time to resolve" in legend


def test_an_empty_chart_still_draws_its_axes():
    weeks = [Week(date(2026, 3, 2) + timedelta(days=7 * i), 0, None) for i in range(4)]
    root = ET.fromstring(str(weekly_chart(weeks, subject="nothing")))
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert "No incidents in this period" in texts
    assert root.find(f".//{SVG}path") is None


@pytest.mark.django_db
def test_the_page_chart_escapes_a_system_name(client, registrar):
    system = governance.create_system(
        actor=registrar,
        name="<script>alert(1)</script>",
        slug="xss",
        intended_purpose="Tests escaping.",
        risk_category="minimal",
    )
    declare(None, system, "sev3", 2, acknowledged=5, recovered=50)
    client.force_login(registrar)
    page = client.get(f"{PAGE}?system=xss").content.decode()
    assert "<script>alert(1)</script>" not in page
    svg = page[page.index("<svg xmlns") : page.index("</svg>", page.index("<svg xmlns")) + 6]
    root = ET.fromstring(svg)
    assert "<script>alert(1)</script>" in root.get("aria-label", "")


@pytest.mark.django_db
def test_a_stamp_before_detection_counts_as_zero_and_a_missing_one_not_at_all(
    client, owner, fraud, oncall_lead
):
    # Monitoring's clock ran ahead: acknowledged "before" the alert said it was detected.
    declare(oncall_lead, fraud, "sev3", 1, acknowledged=-3)
    declare(oncall_lead, fraud, "sev3", 2)
    client.force_login(owner)
    summary = get_json(client)["summary"]
    assert summary["count"] == 2
    assert summary["acknowledge"] == timing(1, 0.0, 0.0, 0.0)
    assert summary["resolve"] == NO_TIMING


@pytest.mark.django_db
def test_the_page_lists_the_charts_figures_beside_it(client, owner, history):
    client.force_login(owner)
    page = client.get(PAGE).content.decode()
    assert 'aria-label="Figures by week"' in page
    assert "Hover a week" not in page
    assert re.search(r'class="chart-figures-count">\d+ incidents?</span>', page)

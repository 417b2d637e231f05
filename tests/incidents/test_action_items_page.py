"""The action items page: every post-mortem's promises, on the systems one can see."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance import services as governance
from incidents import services
from incidents.models import ActionItem
from tests.factories import UserFactory
from tests.matrix import ROLE_HOLDERS, Route

TODAY = date.today()


def bulk_items(incident, count: int, **fields):  # type: ignore[no-untyped-def]
    """Rows written in bulk, standing in for what add_action_item would have written."""
    return ActionItem.objects.bulk_create(
        ActionItem(incident=incident, title=f"{fields.get('title', 'Item')} {n}", **{
            key: value for key, value in fields.items() if key != "title"
        })
        for n in range(count)
    )  # fmt: skip


def titles(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    return re.findall(
        r'<a class="strong-link" href="/incidents/\d+/postmortem/#item-\d+">([^<]*)</a>', html
    )


def row_classes(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """{title: the row's classes}."""
    html = response.content.decode()
    rows = re.findall(
        r'<tr class="([^"]*)">\s*<td class="ai-cell-item">\s*<a [^>]*>([^<]*)</a>', html
    )
    return {title: classes for classes, title in rows}


@pytest.fixture
def hidden_incident(other_system):
    return services.declare_incident(
        actor=None, system=other_system, title="Hidden", severity="sev2", category="drift"
    )


@pytest.fixture
def second_system(registrar, viewer):
    """Another system the viewer sees, so the system filter has a choice to make."""
    system = governance.create_system(
        actor=registrar,
        name="Claims triage",
        slug="claims",
        intended_purpose="Routes insurance claims.",
        risk_category="limited",
    )
    governance.grant_role(actor=registrar, system=system, role="viewer", user=viewer)
    return system


@pytest.fixture
def spread(incident, responder, viewer, second_system, hidden_incident):
    """Items of every kind: mine (viewer's), unowned, done, overdue, on two systems, and hidden."""
    claims = services.declare_incident(
        actor=None, system=second_system, title="Claims stuck", severity="sev3", category="drift"
    )
    bulk_items(incident, 1, title="Viewer late", owner=viewer, due_date=TODAY - timedelta(days=2))
    bulk_items(incident, 1, title="Viewer soon", owner=viewer, due_date=TODAY + timedelta(days=5))
    bulk_items(incident, 1, title="Unowned", due_date=TODAY + timedelta(days=9))
    bulk_items(
        incident, 1, title="Done late", owner=responder, status="done",
        due_date=TODAY - timedelta(days=20),
    )  # fmt: skip
    bulk_items(incident, 1, title="Responder going", owner=responder, status="in_progress")
    bulk_items(claims, 1, title="Claims item", due_date=TODAY - timedelta(days=1))
    bulk_items(hidden_incident, 1, title="Hidden item")


@pytest.mark.django_db
def test_it_lists_the_items_of_every_incident_one_can_see_and_nothing_else(
    client, spread, viewer, outsider
):
    client.force_login(viewer)
    response = client.get("/action-items/")
    assert response.status_code == 200
    shown = titles(response)
    assert {"Viewer late 0", "Claims item 0", "Done late 0"} <= set(shown)
    assert "Hidden item 0" not in shown and len(shown) == 6
    # Work still to do first, soonest due first; done last.
    assert shown[0] == "Viewer late 0" and shown[-1] == "Done late 0"
    client.force_login(outsider)
    nothing = client.get("/action-items/")
    assert nothing.status_code == 200
    assert titles(nothing) == [] and "No action items." in nothing.content.decode()


@pytest.mark.django_db
def test_each_row_links_to_its_incidents_postmortem(client, incident, viewer, responder):
    item = services.add_action_item(actor=responder, incident=incident, title="Alert per channel")
    client.force_login(viewer)
    html = client.get("/action-items/").content.decode()
    assert f'href="/incidents/{incident.pk}/postmortem/#item-{item.pk}"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=done", {"Done late 0"}),
        ("status=in_progress", {"Responder going 0"}),
        (
            "status=not_done",
            {"Viewer late 0", "Viewer soon 0", "Unowned 0", "Responder going 0", "Claims item 0"},
        ),
        ("owner=mine", {"Viewer late 0", "Viewer soon 0"}),
        ("owner=unassigned", {"Unowned 0", "Claims item 0"}),
        ("system=claims", {"Claims item 0"}),
        ("overdue=on", {"Viewer late 0", "Claims item 0"}),
        ("overdue=on&owner=mine", {"Viewer late 0"}),
        ("system=fraud&owner=unassigned", {"Unowned 0"}),
    ],
)
def test_filters_narrow_the_list(client, spread, viewer, query, expected):
    client.force_login(viewer)
    response = client.get(f"/action-items/?{query}")
    assert response.status_code == 200
    assert set(titles(response)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["status=abandoned", "owner=everyone", "system=hidden"])
def test_a_bad_filter_is_a_400_with_the_error_not_a_500(client, spread, viewer, query):
    client.force_login(viewer)
    response = client.get(f"/action-items/?{query}")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert titles(response) == []


@pytest.mark.django_db
def test_overdue_items_are_highlighted_and_done_ones_never_are(client, spread, viewer):
    client.force_login(viewer)
    rows = row_classes(client.get("/action-items/"))
    overdue = {title for title, classes in rows.items() if "is-overdue" in classes.split()}
    assert overdue == {"Viewer late 0", "Claims item 0"}
    assert "2\xa0days overdue" in client.get("/action-items/").content.decode()


@pytest.mark.django_db
def test_the_tiles_count_what_waits(client, spread, viewer):
    client.force_login(viewer)
    html = client.get("/action-items/").content.decode()
    values = re.findall(
        r'<span class="summary-label">([^<]+)</span>\s*<span class="summary-value">(\d+)</span>',
        html,
    )
    assert dict(values) == {"Open": "5", "Overdue": "2", "Yours": "2", "No owner": "2"}


@pytest.mark.django_db
def test_it_pages_at_50_and_counts_the_rest(client, incident, viewer):
    bulk_items(incident, 120, title="Bulk")
    client.force_login(viewer)
    first = client.get("/action-items/")
    assert len(titles(first)) == 50
    assert "1\u201350 of 120 action items · 70 more" in first.content.decode()
    last = client.get("/action-items/?page=3")
    assert len(titles(last)) == 20 and "101\u2013120 of 120" in last.content.decode()
    assert client.get("/action-items/?page=nonsense").status_code == 200


@pytest.mark.django_db
def test_htmx_gets_only_the_table(client, spread, viewer):
    client.force_login(viewer)
    response = client.get("/action-items/?owner=mine", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and set(titles(response)) == {"Viewer late 0", "Viewer soon 0"}


def count_queries(client, path: str) -> int:  # type: ignore[no-untyped-def]
    client.get(path)  # warm process-wide caches (content types)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/action-items/", "/action-items/?status=not_done&system=fraud"])
def test_the_page_costs_the_same_with_5_and_100_items(client, incident, oncall_lead, viewer, path):
    owners = [UserFactory() for _ in range(4)]
    incidents = [incident] + [
        services.declare_incident(
            actor=oncall_lead, system=incident.system, title=f"I{n}", severity="sev3",
            category="drift",
        )
        for n in range(3)
    ]  # fmt: skip

    def grow(count: int) -> None:
        for n in range(count):
            bulk_items(
                incidents[n % 4], 1, owner=owners[n % 4], due_date=TODAY - timedelta(days=n % 3)
            )

    client.force_login(viewer)
    grow(5)
    few = count_queries(client, path)
    grow(95)
    many = count_queries(client, path)
    assert many == few


# The role matrix calls these in `action_items_world` (tests/worlds/action_items.py).
ROUTES = [
    Route("action items page", "GET", "/action-items/", frozenset(ROLE_HOLDERS) | {"outsider"}),
    Route(
        "action items filtered",
        "GET",
        "/action-items/?owner=mine&overdue=on&system=fraud",
        frozenset(ROLE_HOLDERS),
        refused=200,
        outsider=400,  # fraud is no choice for someone who cannot see it
    ),
]

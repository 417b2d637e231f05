"""Hostile input on the pages: every form of the role matrix, never a 5xx, nothing written.

The API's half, and what answers it, is tests/test_hostile_input.py's. On pages, a NUL in a
form's data is the 400 page (config.errors.RefuseUnusableInput: PostgreSQL stores no NUL, and
a choice or a lookup field would send it to a query); in a query string, the page's filter
form names the field, or the input error it raises is the 400 page; the other values are
form errors. Never the 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client

from config.errors import RefuseUnusableInput
from tests.governance.test_api_tokens import world as api_tokens_world  # noqa: F401
from tests.governance.test_role_matrix import everyone  # noqa: F401 (fixture)
from tests.incidents.api_routes import world as incident_api_world  # noqa: F401
from tests.incidents.conftest import incident  # noqa: F401 (fixture)
from tests.incidents.test_action_items_page import world as action_items_world  # noqa: F401
from tests.incidents.test_alert_token_pages import world as alert_tokens_world  # noqa: F401
from tests.incidents.test_postmortem_pages import world as postmortem_world  # noqa: F401
from tests.incidents.war_room_routes import world as war_room_world  # noqa: F401
from tests.releases.routes import world as releases_world  # noqa: F401
from tests.releases.test_intake import world as intake_world  # noqa: F401
from tests.test_route_matrix import governance_world  # noqa: F401 (fixture)

LONG = "x" * 100_000


# ---- the pages -------------------------------------------------------------------------------

PAGE_VALUES = {
    "nul": "a\x00b",
    "impossible date": "2026-13-45",
    "year zero": "0000-01-01T00:00:00",
    "huge number": "1" + "0" * 30,
    "long string": LONG,
}
PAGE_QUERY_VALUES = {
    "nul": "a%00b",
    "lone surrogate": "%ED%A0%80",  # decoded with replacement characters
    "banana": "banana",
    "huge number": "1" + "0" * 30,
}
# The names the page filters read (governance/filters.py, releases/filters.py,
# incidents/filters.py, incidents/forms.py): sent to every page.
FILTER_NAMES = [
    "q", "system", "status", "owner", "overdue", "risk_category", "action", "actor",
    "object_type", "since", "until", "stage", "severity", "page", "after", "period", "from", "to",
]  # fmt: skip


def _page_groups() -> list[Any]:
    from tests.route_matrix import GROUPS

    return [group for group in GROUPS if group.world != "site_world"]  # it starts a worker


@pytest.mark.django_db
@pytest.mark.parametrize(
    "group", _page_groups(), ids=lambda group: group.world.removesuffix("_world")
)
def test_every_form_page_takes_hostile_values_without_a_5xx(group, request, settings):
    from governance.models import AuditEvent

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * LONG.__len__()
    people, ids = request.getfixturevalue(group.world)
    problems = []
    for route in group.routes:
        if route.api:
            continue
        route = route.with_people(people, ids)
        persona = sorted(route.allowed)[0] if route.allowed else "owner"
        client = Client(raise_request_exception=False)
        client.force_login(people[persona])
        path = route.path.format(**ids)
        calls = []
        if route.method == "GET":
            for name, value in PAGE_QUERY_VALUES.items():
                query = "&".join(f"{field}={value}" for field in FILTER_NAMES)
                calls.append((name, lambda q=query: client.get(f"{path.split('?')[0]}?{q}")))
        else:
            fields = list(route.data) or ["comment"]
            for name, value in PAGE_VALUES.items():
                data = {field: value for field in fields}
                calls.append((name, lambda d=data: getattr(client, route.method.lower())(path, d)))
        for name, call in calls:
            with transaction.atomic():
                before = AuditEvent.objects.count()
                with transaction.atomic():  # the request's own: rolled back if it is refused
                    response = call()
                status = response.status_code
                if status >= 500:
                    problems.append(f"{route.name} ({route.method} {path}) with {name}: {status}")
                if status >= 400 and AuditEvent.objects.count() != before:
                    problems.append(f"{route.name} with {name}: {status} but wrote an event")
                transaction.set_rollback(True)
    assert not problems, "\n".join(problems)


def test_a_nul_in_a_form_is_the_400_page_and_changes_nothing(client, owner, fraud):
    from governance.models import AuditEvent

    client.force_login(owner)
    before = AuditEvent.objects.count()

    response = client.post("/systems/fraud/environments/new/", {"name": "Can\x00ary"})

    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_a_nul_in_the_sign_in_form_is_the_400_page(client, owner):
    response = client.post("/login/", {"username": "regis\x00trar", "password": "x"})

    assert response.status_code == 400


def test_an_anonymous_visitor_is_sent_to_sign_in_before_the_form_is_read(client, fraud):
    response = client.post("/systems/fraud/environments/new/", {"name": "Can\x00ary"})

    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("path", "error", "status"),
    [
        ("/systems/", DataError("value too long for type character varying(200)"), 400),
        ("/systems/", RecursionError(), 400),
        ("/systems/", ValueError("year 0 is out of range"), 400),
        ("/api/systems/", UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"), 400),
        ("/systems/", KeyError("a bug"), None),  # not input: the 500 it is
    ],
)
def test_an_input_error_a_view_lets_through_is_a_400(path, error, status):
    request = HttpRequest()
    request.path_info = request.path = path

    answer = RefuseUnusableInput(HttpResponse).process_exception(request, error)

    assert (answer.status_code if answer else None) == status
    if answer is not None and path.startswith("/api/"):
        assert json.loads(answer.content)["detail"]

"""Pages make the same number of queries whatever the amount of data behind them."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from governance import services
from governance.roles import Role
from tests.factories import UserFactory


def _grow(owner, start: int, count: int) -> None:
    for i in range(start, start + count):
        system = services.create_system(
            actor=owner,
            name=f"System {i}",
            intended_purpose="Scores things.",
            risk_category=["high", "limited", "minimal"][i % 3],
            owners=[UserFactory()],
        )
        services.grant_role(actor=owner, system=system, role=Role.VIEWER, user=UserFactory())


def _queries(client, path: str) -> int:
    client.get(path)  # warm process-wide caches (content types) so only the page is counted
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/systems/", "/audit/", "/systems/fraud/", "/api/systems/",
                                  "/api/audit-events/"])  # fmt: skip
def test_page_query_count_does_not_grow_with_data(client, owner, fraud, path):
    client.force_login(owner)
    _grow(owner, 0, 3)
    few = _queries(client, path)
    _grow(owner, 3, 30)
    many = _queries(client, path)
    assert many == few


@pytest.mark.django_db
def test_htmx_posts_carry_the_csrf_token_from_the_page(owner, fraud):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get("/systems/fraud/").content.decode()
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    newcomer = UserFactory(username="nadia")

    refused = client.post(
        "/systems/fraud/roles/", {"role": "viewer", "user": newcomer.username},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    accepted = client.post(
        "/systems/fraud/roles/", {"role": "viewer", "user": newcomer.username},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )  # fmt: skip

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert "nadia" in accepted.content.decode()

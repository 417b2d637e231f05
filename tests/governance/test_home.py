"""The home page: what needs attention, only for the systems the user sees, in fixed queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance import services as governance
from governance.roles import Role
from incidents import services as incidents
from releases import rollbacks
from tests.factories import UserFactory


def tiles(response) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {tile.label: tile.value for tile in response.context["tiles"]}


def declare(actor, system, severity, **extra):  # type: ignore[no-untyped-def]
    return incidents.declare_incident(
        actor=actor, system=system, title=f"{severity} alarm", severity=severity,
        category="performance", **extra,
    )  # fmt: skip


@pytest.fixture
def busy(successor, production, rollback_owner, oncall_lead, fraud, other_system):
    """Two open incidents on fraud (one serious, with an overdue follow-up), a rollback in
    flight, and an incident on a system none of the personas sees."""
    sev1 = declare(oncall_lead, fraud, "sev1")
    declare(oncall_lead, fraud, "sev3")
    incidents.classify_serious(
        actor=oncall_lead, incident=sev1, harm_categories=["property_or_environment"],
        aware_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    incidents.add_action_item(
        actor=oncall_lead, incident=sev1, title="Add a canary for velocity features",
        owner=oncall_lead, due_date=timezone.now().date() - timedelta(days=3),
    )  # fmt: skip
    rollbacks.request_rollback(actor=rollback_owner, environment=production, reason="Review rate")
    stranger = other_system.role_grants.get().user
    lead = UserFactory(username="hidden-lead")
    governance.grant_role(actor=stranger, system=other_system, role=Role.ONCALL_LEAD, user=lead)
    declare(lead, other_system, "sev1")
    return sev1


@pytest.mark.django_db
def test_it_shows_what_needs_the_oncall_leads_attention(client, oncall_lead, busy):
    client.force_login(oncall_lead)
    response = client.get("/")

    assert response.status_code == 200
    assert tiles(response) == {
        "Open incidents": 2,  # not the hidden system's SEV1
        "Reporting clocks": 1,
        "Overdue actions": 1,
        "Rollbacks in flight": 1,
        "Waiting for me": 0,
    }
    page = response.content.decode()
    assert "Add a canary for velocity features" in page
    assert "Art. 73(2)" in page
    assert "Hidden system" not in page


@pytest.mark.django_db
def test_a_release_manager_sees_the_releases_waiting_for_their_approval(
    client, release_manager, submitted
):
    client.force_login(release_manager)
    response = client.get("/")

    assert tiles(response)["Waiting for me"] == 1
    assert submitted.title in response.content.decode()


@pytest.mark.django_db
def test_an_outsider_sees_nothing_of_the_systems(client, outsider, busy):
    client.force_login(outsider)
    response = client.get("/")

    assert set(tiles(response).values()) == {0}
    assert "sev1 alarm" not in response.content.decode()


@pytest.mark.django_db
def test_htmx_refreshes_only_the_body(client, oncall_lead, busy):
    client.force_login(oncall_lead)
    response = client.get("/", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="home"')
    assert "<html" not in page


@pytest.mark.django_db
def test_the_home_page_reads_a_fixed_number_of_queries(client, oncall_lead, fraud, busy):
    client.force_login(oncall_lead)
    client.get("/")  # warm: the session, the user

    with CaptureQueriesContext(connection) as small:
        client.get("/")
    for n in range(10):
        incident = declare(oncall_lead, fraud, "sev2")
        incidents.add_action_item(
            actor=oncall_lead, incident=incident, title=f"follow-up {n}",
            due_date=timezone.now().date() - timedelta(days=1),
        )  # fmt: skip
    with CaptureQueriesContext(connection) as large:
        response = client.get("/")

    assert tiles(response)["Open incidents"] == 12
    assert len(large) == len(small) <= 20

"""The declare form: the system first, then only its environments, production chosen."""

from __future__ import annotations

import pytest

from governance import services as governance
from incidents.models import Incident
from releases.models import Environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_system(oncall_lead, other_system, production, staging):  # type: ignore[no-untyped-def]
    """The on-call lead leads another system too, with an environment of its own."""
    stranger = other_system.role_grants.first().user
    governance.grant_role(actor=stranger, system=other_system, role="oncall_lead", user=oncall_lead)
    return Environment.objects.create(
        system=other_system, name="Live", slug="live", is_production=True
    )


def _options(page: str, name: str) -> str:
    start = page.index(f'name="{name}"')
    return page[start : page.index("</select>", start)]


def test_it_offers_the_first_systems_environments_with_production_chosen(
    client, oncall_lead, fraud, second_system, production, staging
):
    client.force_login(oncall_lead)
    page = client.get("/incidents/declare/?system=fraud").content.decode()
    environments = _options(page, "environment")
    assert f'value="{production.pk}" selected' in environments
    assert f'value="{staging.pk}"' in environments
    assert f'value="{second_system.pk}"' not in environments


def test_htmx_swaps_in_the_chosen_systems_environments(
    client, oncall_lead, fraud, second_system, production
):
    client.force_login(oncall_lead)
    response = client.get(
        f"/incidents/declare/?system={second_system.system_id}", headers={"HX-Request": "true"}
    )
    fragment = response.content.decode()
    assert fragment.startswith('<div id="declare-environment">')
    assert f'value="{second_system.pk}" selected' in fragment
    assert f'value="{production.pk}"' not in fragment


def test_without_js_the_button_shows_the_systems_environments_and_keeps_the_title(
    client, oncall_lead, fraud, second_system, production
):
    client.force_login(oncall_lead)
    response = client.post(
        "/incidents/declare/",
        {"system": second_system.system_id, "title": "Scores all 0.99", "choose_system": "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{second_system.pk}" selected' in _options(page, "environment")
    assert 'value="Scores all 0.99"' in page
    assert not Incident.objects.exists()


def test_an_environment_of_another_system_is_refused(
    client, oncall_lead, fraud, second_system, production
):
    client.force_login(oncall_lead)
    response = client.post(
        "/incidents/declare/",
        {
            "system": fraud.pk, "environment": second_system.pk, "title": "Broken",
            "severity": "sev3", "category": "performance", "source": "user_report",
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert "Choose one of the chosen system" in response.content.decode()
    assert not Incident.objects.exists()


def test_it_declares_in_the_chosen_environment(client, oncall_lead, fraud, production):
    client.force_login(oncall_lead)
    response = client.post(
        "/incidents/declare/",
        {
            "system": fraud.pk, "environment": production.pk, "title": "Broken",
            "severity": "sev3", "category": "performance", "source": "user_report",
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert Incident.objects.get().environment == production

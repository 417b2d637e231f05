"""What the API fuzzer (tests/test_api_fuzz.py) found in the releases API, pinned down:
bad input is a JSON 4xx that changes nothing, never a 500, and reads match the schema."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.models import AuditEvent
from releases.models import GatePolicy
from tests.factories import PASSWORD


def put(client, path, data):  # type: ignore[no-untyped-def]
    return client.put(path, data, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("pk", ["null", "false", "0.5", "1e3", "é"])
def test_it_answers_a_release_id_that_is_no_integer_with_a_json_404(client, model_owner, pk):
    client.force_login(model_owner)
    for response in (
        client.get(f"/api/releases/{pk}/"),
        client.post(f"/api/releases/{pk}/submit/"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]


@pytest.mark.django_db
def test_it_answers_a_post_to_an_unrouted_api_path_as_json_not_csrf_html(model_owner):
    """HTTP Basic clients send no CSRF token: an unmatched path must not reach CSRF's page."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/releases/0.5/promotions/",
        {},
        content_type="application/json",
        headers={"authorization": _basic(model_owner.username)},
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_unrouted_api_path_without_its_slash_is_still_redirected(client, model_owner):
    client.force_login(model_owner)
    assert client.get("/api/releases").status_code == 301


@pytest.mark.django_db
def test_a_gate_policy_put_without_the_approval_count_is_a_400(client, owner, fraud):
    client.force_login(owner)
    before = AuditEvent.objects.count()
    response = put(client, "/api/systems/fraud/gate-policy/", {"required_criteria": []})
    assert response.status_code == 400
    assert "approvals_required" in response.json()
    assert AuditEvent.objects.count() == before
    assert not GatePolicy.objects.filter(system=fraud).exclude(approvals_required=1).exists()


@pytest.mark.django_db
def test_a_nul_character_in_a_referenced_name_is_a_400(client, model_owner, draft, rollback_owner):
    client.force_login(model_owner)
    before = AuditEvent.objects.count()
    plan = {
        "environment": "produc\x00tion",
        "owners": ["ro\x00b"],
        "mode": "manual",
        "cooldown_minutes": 5,
        "triggers": [],
    }
    response = put(client, f"/api/releases/{draft.pk}/rollback-plan/", plan)
    assert response.status_code == 400
    assert set(response.json()) == {"environment", "owners"}
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_a_release_without_a_plan_reads_as_the_schema_says(client, model_owner, draft):
    client.force_login(model_owner)
    assert client.get(f"/api/releases/{draft.pk}/").json()["rollback_plan"] is None
    plan = _schema()["components"]["schemas"]["ReleaseDetail"]["properties"]["rollback_plan"]
    assert plan["nullable"] is True


def _schema():  # type: ignore[no-untyped-def]
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _basic(username: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/releases/",
        "/api/environments/",
        "/api/rollbacks/",
        "/api/incidents/",
        "/api/systems/",
        "/api/audit-events/",
    ],
)
def test_a_limit_beyond_any_page_gets_the_ceiling_not_a_500(client, model_owner, draft, path):
    """?limit=10**21 went to PostgreSQL as a LIMIT beyond bigint."""
    client.force_login(model_owner)
    response = client.get(f"{path}?limit=575396872151021322240&offset=99999999999999999999999")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert client.get(f"{path}?limit=575396872151021322240").status_code == 200

"""What the API fuzzer (tests/test_api_fuzz.py) found in the inventory API, pinned down."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent, RoleGrant


@pytest.mark.django_db
def test_a_nul_character_in_an_owner_name_is_a_400(client, registrar):
    client.force_login(registrar)
    before = AuditEvent.objects.count()
    response = client.post(
        "/api/systems/",
        {
            "name": "Churn",
            "intended_purpose": "Predicts churn.",
            "risk_category": "minimal",
            "owners": ["regis\x00trar"],
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "owners" in response.json()
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_a_nul_character_in_a_grantee_is_a_400(client, owner, fraud):
    client.force_login(owner)
    grants = RoleGrant.objects.count()
    response = client.post(
        "/api/systems/fraud/roles/",
        {"role": "viewer", "user": "v\x00ic"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "user" in response.json()
    assert RoleGrant.objects.count() == grants


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/systems/0.9.0/",
        "/api/systems/fr%C3%A4ud/evidence/",
        "/api/systems/fraud/roles/x1/",
        "/api/audit-events/0.5/",
    ],
)
def test_an_unrouted_system_path_is_a_json_404(client, owner, fraud, path):
    client.force_login(owner)
    for response in (client.get(path), client.delete(path)):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_the_roles_of_a_system_are_a_list_as_documented(client, owner, fraud):
    from drf_spectacular.generators import SchemaGenerator

    client.force_login(owner)
    assert isinstance(client.get("/api/systems/fraud/roles/").json(), list)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = schema["paths"]["/api/systems/{slug}/roles/"]["get"]["responses"]["200"]
    assert documented["content"]["application/json"]["schema"]["type"] == "array"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "?until=1033-02-18T03:04:14%2B23:47",  # an offset Python takes and PostgreSQL refuses
        "?since=0001-01-01T00:00:00%2B05:00",  # no UTC equivalent at all
    ],
)
def test_an_audit_filter_time_postgresql_cannot_compare_is_a_400_or_compared_in_utc(
    client, owner, fraud, query
):
    client.force_login(owner)
    response = client.get(f"/api/audit-events/{query}")
    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "?at=1033-02-18T03:04:14%2B23:47",
        "?at=0001-01-01T00:00:00%2B05:00",
    ],
)
def test_an_evidence_time_out_of_range_is_a_json_answer(client, owner, fraud, query):
    client.force_login(owner)
    response = client.get(f"/api/systems/fraud/evidence/questions/live/{query}")
    assert response.status_code in (200, 400), response.content[:300]
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_period_ending_on_the_last_day_there_is_is_a_400(client, owner, fraud):
    client.force_login(owner)
    response = client.get("/api/systems/fraud/evidence/coverage/?start=9999-12-30&end=9999-12-31")
    assert response.status_code == 400
    assert "end" in response.json()


@pytest.mark.django_db
def test_a_body_of_a_type_the_api_does_not_read_is_a_documented_415(client, owner, fraud):
    client.force_login(owner)
    grants = RoleGrant.objects.count()
    response = client.post(
        "/api/systems/fraud/roles/", "role=viewer&user=vic", content_type="text/plain"
    )
    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]
    assert RoleGrant.objects.count() == grants

    schema = client.get("/api/schema/?format=json").json()
    operations = [
        operation
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert operations
    assert all("415" in operation["responses"] for operation in operations)

"""What the API fuzzer (tests/test_api_fuzz.py) found in the incidents API, pinned down."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("pk", ["null", "false", "ê"])
def test_it_answers_an_incident_id_that_is_no_integer_with_a_json_404(client, oncall_lead, pk):
    client.force_login(oncall_lead)
    for response in (
        client.get(f"/api/incidents/{pk}/"),
        client.get(f"/api/incidents/{pk}/timeline/"),
        client.post(
            f"/api/incidents/{pk}/roles/",
            {"role": "scribe", "user": "olga"},
            content_type="application/json",
        ),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/incidents/0.5/publish/",
        "/api/incidents/1/containments/w1/",
        "/api/alerts/nowhere/",
    ],
)
def test_an_unrouted_incident_path_is_a_json_404(client, oncall_lead, path):
    client.force_login(oncall_lead)
    response = client.post(path, {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_incident_reads_as_the_schema_says_before_it_is_classified(
    client, incident, oncall_lead
):
    """No harm yet and no environment were answered, but not documented."""
    from drf_spectacular.generators import SchemaGenerator

    client.force_login(oncall_lead)
    body = client.get(f"/api/incidents/{incident.pk}/").json()
    assert body["harm_categories"] == []
    schema = SchemaGenerator().get_schema(request=None, public=True)
    incident_schema = schema["components"]["schemas"]["Incident"]["properties"]
    assert incident_schema["harm_categories"]["type"] == "array"
    assert incident_schema["environment"]["nullable"] is True
    assert incident_schema["live_release"]["nullable"] is True


@pytest.mark.django_db
def test_the_timeline_is_a_list_as_documented_not_a_page(client, incident, oncall_lead):
    from drf_spectacular.generators import SchemaGenerator

    client.force_login(oncall_lead)
    assert isinstance(client.get(f"/api/incidents/{incident.pk}/timeline/").json(), list)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = schema["paths"]["/api/incidents/{id}/timeline/"]["get"]["responses"]["200"]
    assert documented["content"]["application/json"]["schema"]["type"] == "array"

"""The incidents API runs the whole lifecycle through the same services."""

from __future__ import annotations

import pytest

from incidents.models import Incident


def post(client, path, data=None):  # type: ignore[no-untyped-def]
    return client.post(path, data or {}, content_type="application/json")


@pytest.mark.django_db
def test_the_lifecycle_through_the_api(client, oncall_lead, responder, live_release, production):
    client.force_login(oncall_lead)
    declared = post(
        client,
        "/api/incidents/",
        {
            "system": "fraud",
            "environment": "production",
            "title": "Declines spike",
            "severity": "sev2",
            "category": "performance",
        },
    )
    assert declared.status_code == 201, declared.json()
    body = declared.json()
    assert body["live_release"] == live_release.version
    pk = body["id"]

    assert (
        post(client, f"/api/incidents/{pk}/roles/", {"role": "scribe", "user": "rhea"}).status_code
        == 200
    )
    assert (
        post(client, f"/api/incidents/{pk}/stage/", {"stage": "containment"}).json()["stage"]
        == "containment"
    )
    contained = post(
        client,
        f"/api/incidents/{pk}/containments/",
        {"kind": "disable_feature", "target": "instant-payouts"},
    )
    assert contained.status_code == 201
    done = post(
        client, f"/api/incidents/{pk}/containments/{contained.json()['id']}/", {"status": "done"}
    )
    assert done.json()["status"] == "done"
    last = client.get(f"/api/incidents/{pk}/timeline/").json()[-1]["id"]

    client.force_login(responder)
    note = post(client, f"/api/incidents/{pk}/timeline/", {"body": "Mobile only."})
    assert note.status_code == 201
    new = client.get(f"/api/incidents/{pk}/timeline/?after={last}").json()
    assert [entry["body"] for entry in new] == ["Mobile only."]

    client.force_login(oncall_lead)
    assert post(client, f"/api/incidents/{pk}/stage/", {"stage": "review"}).status_code == 200
    client.put(
        f"/api/incidents/{pk}/postmortem/",
        {"summary": "s", "impact": "i", "root_cause_data": "d", "detection_gaps": "g"},
        content_type="application/json",
    )
    item = post(client, f"/api/incidents/{pk}/action-items/", {"title": "Per-channel alert"})
    assert item.status_code == 201
    refused = post(client, f"/api/incidents/{pk}/publish/")
    assert refused.status_code == 400
    assert refused.json()["detail"] == ["1 action item has no owner."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"severity": "sev7"}, "severity"),
        ({"category": "nope"}, "category"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_declarations_get_field_errors(client, oncall_lead, fraud, payload, field):
    client.force_login(oncall_lead)
    data = {"system": "fraud", "title": "t", "severity": "sev3", "category": "drift", **payload}
    response = post(client, "/api/incidents/", data)
    assert response.status_code == 400 and field in response.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_roles_are_enforced(client, incident, viewer, responder, outsider):
    client.force_login(viewer)
    assert post(client, f"/api/incidents/{incident.pk}/timeline/", {"body": "x"}).status_code == 403
    client.force_login(responder)
    assert (
        post(client, f"/api/incidents/{incident.pk}/stage/", {"stage": "recovery"}).status_code
        == 403
    )
    client.force_login(outsider)
    assert client.get(f"/api/incidents/{incident.pk}/").status_code == 404
    assert client.get("/api/incidents/").json()["count"] == 0


@pytest.mark.django_db
def test_serious_classification_returns_the_deadline(client, incident, oncall_lead):
    client.force_login(oncall_lead)
    response = post(
        client,
        f"/api/incidents/{incident.pk}/serious/",
        {"harm_categories": ["critical_infrastructure"]},
    )
    assert response.status_code == 200
    assert response.json()["reporting_deadline"] is not None

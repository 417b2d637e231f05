"""GET /api/environments/ and /api/environments/{id}/ say what is live in each environment,
as /live/ does, in the same number of queries however many environments there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services as incidents
from releases import rollbacks
from tests.factories import OpenIncidentFactory
from tests.releases.bulk import bulk_environments

pytestmark = pytest.mark.django_db


def live_versions(client) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    response = client.get("/api/environments/")
    assert response.status_code == 200
    return {row["slug"]: row["live_release"] for row in response.json()["results"]}


def test_the_list_and_the_detail_name_the_release_live_in_each_environment(
    client, viewer, live_release, production, staging
):
    client.force_login(viewer)

    assert live_versions(client) == {production.slug: live_release.version, staging.slug: None}
    detail = client.get(f"/api/environments/{production.pk}/").json()
    live = client.get(f"/api/environments/{production.pk}/live/").json()
    assert detail["live_release"] == live["version"] == live_release.version
    assert client.get(f"/api/environments/{staging.pk}/").json()["live_release"] is None


def test_they_follow_a_rollout_and_a_rollback(
    client, viewer, oncall_lead, rollback_owner, fraud, live_release, successor, production
):
    client.force_login(viewer)
    assert live_versions(client)[production.slug] == successor.version

    incident = OpenIncidentFactory(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev1", category="drift",
    )  # fmt: skip
    request, _ = incidents.roll_back_incident(actor=rollback_owner, incident=incident, reason="x")
    rollbacks.run_rollback(request_id=request.pk)

    assert live_versions(client)[production.slug] == live_release.version
    detail = client.get(f"/api/environments/{production.pk}/").json()
    assert detail["live_release"] == live_release.version


def test_a_change_through_the_api_answers_with_what_is_live(
    client, owner, live_release, production
):
    client.force_login(owner)

    response = client.patch(
        f"/api/environments/{production.pk}/", {"name": "Production EU"},
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 200, response.json()
    assert response.json()["live_release"] == live_release.version


def count_queries(client, path: str) -> int:  # type: ignore[no-untyped-def]
    client.get(path)  # warm process-wide caches (content types)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_the_list_costs_the_same_with_2_and_40_environments(
    client, viewer, fraud, live_release, production
):
    client.force_login(viewer)
    bulk_environments(fraud, live_release, 1)
    few = count_queries(client, "/api/environments/")
    bulk_environments(fraud, live_release, 38)

    many = count_queries(client, "/api/environments/")

    assert many == few
    listed = live_versions(client)
    assert len(listed) == 40 and set(listed.values()) == {live_release.version}


def test_the_detail_costs_the_same_as_without_a_live_release(
    client, viewer, fraud, live_release, production, staging
):
    client.force_login(viewer)

    assert count_queries(client, f"/api/environments/{production.pk}/") == count_queries(
        client, f"/api/environments/{staging.pk}/"
    )

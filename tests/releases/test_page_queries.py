"""Release list, release page and approvals queue: the same query count at 5 and at 500."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tests.releases.bulk import bulk_approvals, bulk_gate_checks, bulk_releases


def count_queries(client, path: str) -> int:
    """The queries of a full render (the page cache emptied first)."""
    client.get(path)  # warm process-wide caches (content types)
    caches["pages"].clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    assert response.get("X-Page-Cache", "miss") == "miss"
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/releases/", "/approvals/", "/api/releases/", "/api/releases/approval-queue/"]
)
def test_lists_cost_the_same_with_5_and_500_releases(
    client, release_manager, model_owner, fraud, production, path
):
    client.force_login(release_manager)
    bulk_releases(fraud, model_owner, 5)
    few = count_queries(client, path)
    bulk_releases(fraud, model_owner, 495)
    many = count_queries(client, path)
    assert many == few


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/releases/{pk}/", "/api/releases/{pk}/"])
def test_the_release_page_costs_the_same_with_50_checks_and_20_approvals(
    client, release_manager, model_owner, live_release, make_release, path
):
    client.force_login(release_manager)
    release = bulk_releases(live_release.system, model_owner, 1)[0]
    url = path.format(pk=release.pk)
    bulk_gate_checks(release, model_owner, 2)
    bulk_approvals(release, [UserFactory() for _ in range(1)])
    few = count_queries(client, url)
    bulk_gate_checks(release, model_owner, 48)
    bulk_approvals(release, [UserFactory() for _ in range(19)])
    many = count_queries(client, url)
    assert many == few

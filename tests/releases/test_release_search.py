"""The releases list searches versions, titles and system names; every word must match."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def releases(make_release):  # type: ignore[no-untyped-def]
    return {
        "graph": make_release("3.1.0", title="Merchant graph features"),
        "sdk": make_release("3.2.0", title="SDK upgrade"),
    }


def _found(client, query: str) -> set[str]:  # type: ignore[no-untyped-def]
    response = client.get("/releases/", {"q": query})
    assert response.status_code == 200
    return {release.version for release, _ in response.context["rows"]}


def test_it_searches_titles_versions_and_system_names(client, viewer, fraud, releases):
    client.force_login(viewer)
    assert _found(client, "merchant") == {"3.1.0"}
    assert _found(client, "3.2") == {"3.2.0"}
    assert _found(client, fraud.name.split()[0].lower()) == {"3.1.0", "3.2.0"}
    assert _found(client, f"{fraud.name.split()[-1]} sdk") == {"3.2.0"}  # every word
    assert _found(client, "nothing-like-this") == set()

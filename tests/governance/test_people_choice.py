"""A choice of people never lists everyone: the new-system and role-grant forms offer those
who share a system with the one choosing, and find anyone else only by their exact
username or email, typed in full (governance.people.find_people)."""

from __future__ import annotations

import pytest

from governance.models import AISystem, RoleGrant
from governance.people import SEARCH_LIMIT
from governance.roles import Role
from tests.factories import UserFactory


@pytest.fixture
def stranger(db):
    """Someone who shares no system with anybody here."""
    return UserFactory(username="zedekiah", first_name="Zed", email="zed@elsewhere.example")


def options(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.mark.django_db
def test_it_lists_no_stranger_on_the_new_system_form(client, owner, model_owner, stranger):
    client.force_login(owner)
    page = client.get("/systems/new/").content.decode()
    assert "zedekiah" not in page
    assert "mona" in page  # shares the fraud system with the owner


@pytest.mark.django_db
def test_it_lists_no_stranger_on_the_system_page_or_its_edit_form(client, owner, fraud, stranger):
    client.force_login(owner)
    assert "zedekiah" not in client.get("/systems/fraud/").content.decode()
    assert "zedekiah" not in client.get("/systems/fraud/edit/").content.decode()


@pytest.mark.django_db
def test_the_search_wants_three_characters(client, owner, model_owner):
    client.force_login(owner)
    assert "data-person=" not in options(client.get("/people/search/", {"q": "mo"}))
    assert 'data-person="mona"' in options(client.get("/people/search/", {"q": "mon"}))


@pytest.mark.django_db
def test_the_search_finds_a_stranger_only_by_exact_username_or_email(client, owner, stranger):
    client.force_login(owner)
    assert "zedekiah" not in options(client.get("/people/search/", {"q": "zedek"}))
    assert "zedekiah" not in options(client.get("/people/search/", {"q": "Zed"}))
    assert 'data-person="zedekiah"' in options(client.get("/people/search/", {"q": "ZEDEKIAH"}))
    assert 'data-person="zedekiah"' in options(
        client.get("/people/search/", {"user": "zed@elsewhere.example"})
    )


@pytest.mark.django_db
def test_the_search_answers_a_few(client, owner, fraud):
    for n in range(SEARCH_LIMIT + 5):
        member = UserFactory(username=f"team-{n:02}")
        RoleGrant.objects.create(system=fraud, role=Role.VIEWER, user=member)
    client.force_login(owner)
    found = options(client.get("/people/search/", {"q": "team"}))
    assert found.count("data-person=") == SEARCH_LIMIT


@pytest.mark.django_db
def test_only_those_who_pick_people_may_search(client, viewer, outsider, stranger):
    for person in (viewer, outsider):
        client.force_login(person)
        assert client.get("/people/search/", {"q": "zedekiah"}).status_code == 403


@pytest.mark.django_db
def test_a_role_is_granted_by_username_or_email_never_by_id(client, owner, fraud, stranger):
    client.force_login(owner)
    refused = client.post("/systems/fraud/roles/", {"role": "viewer", "user": str(stranger.pk)},
                          headers={"HX-Request": "true"})  # fmt: skip
    assert refused.status_code == 400
    assert "Nobody active has that username or email." in refused.content.decode()
    assert not RoleGrant.objects.filter(user=stranger).exists()

    client.post("/systems/fraud/roles/", {"role": "viewer", "user": "zed@elsewhere.example"})
    assert RoleGrant.objects.filter(system=fraud, user=stranger, role=Role.VIEWER).exists()


@pytest.mark.django_db
def test_an_owner_outside_the_list_is_added_by_exact_username(client, owner, fraud, stranger):
    client.force_login(owner)
    response = client.post(
        "/systems/new/",
        {"name": "Credit limits", "intended_purpose": "Sets limits.", "risk_category": "high",
         "add_owner": "zedekiah"},
    )  # fmt: skip
    assert response.status_code == 302
    system = AISystem.objects.get(name="Credit limits")
    owners = set(
        system.role_grants.filter(role=Role.OWNER).values_list("user__username", flat=True)
    )
    assert owners == {owner.username, "zedekiah"}


@pytest.mark.django_db
def test_an_owner_listed_by_id_must_share_a_system(client, owner, fraud, stranger):
    client.force_login(owner)
    response = client.post(
        "/systems/new/",
        {"name": "Credit limits", "intended_purpose": "Sets limits.", "risk_category": "high",
         "owners": [str(stranger.pk)]},
    )  # fmt: skip
    assert response.status_code == 400
    assert not AISystem.objects.filter(name="Credit limits").exists()

"""The admin shows releases but cannot change them, nor reveal backend secrets."""

from __future__ import annotations

import pytest

from releases import services
from tests.factories import UserFactory


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_the_admin_cannot_change_a_submitted_release(admin_client, submitted):
    url = f"/admin/releases/release/{submitted.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "model-2.0.0" in page.content.decode()
    response = admin_client.post(url, {"title": "Forged", "known_risks": "none"})
    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.title == "Fraud model 2.0.0"
    assert admin_client.post(f"/admin/releases/release/{submitted.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_the_admin_never_shows_backend_secrets(admin_client, owner, fraud):
    environment = services.create_environment(
        actor=owner, system=fraud, name="Prod", backend_type="webhook",
        backend_secrets={"hmac_key": "never-shown-secret"},
    )  # fmt: skip
    page = admin_client.get(f"/admin/releases/environment/{environment.pk}/change/")
    assert page.status_code == 200
    assert "never-shown-secret" not in page.content.decode()


@pytest.mark.django_db
def test_staff_see_only_the_releases_of_their_systems(client, submitted, other_system):
    from django.contrib.auth.models import Permission

    staff = UserFactory(username="stafford", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_release"))
    client.force_login(staff)
    listing = client.get("/admin/releases/release/")
    assert listing.status_code == 200
    assert submitted.version not in listing.content.decode()

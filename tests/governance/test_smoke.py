import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_it_redirects_anonymous_users_to_login(client):
    response = client.get(reverse("governance:system-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))

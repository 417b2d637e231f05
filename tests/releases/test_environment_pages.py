"""Environments and the gate policy, managed from the system's environments page."""

from __future__ import annotations

import json

import pytest

from releases.gate_policy import policy_for
from releases.models import Environment


@pytest.mark.django_db
def test_an_owner_adds_an_environment_with_a_secret(client, owner, fraud):
    client.force_login(owner)
    response = client.post(
        "/systems/fraud/environments/new/",
        {
            "name": "Canary",
            "backend_type": "webhook",
            "backend_config": json.dumps({"url": "https://deploy.example.com/hook"}),
            "backend_secrets": json.dumps({"hmac_key": "page-secret"}),
        },
    )
    assert response.status_code == 302
    environment = Environment.objects.get(slug="canary")
    assert environment.backend_secrets == {"hmac_key": "page-secret"}
    page = client.get("/systems/fraud/environments/").content.decode()
    assert "Canary" in page and "page-secret" not in page


@pytest.mark.django_db
def test_editing_without_secrets_keeps_the_stored_ones(client, owner, fraud):
    from releases import services

    environment = services.create_environment(
        actor=owner, system=fraud, name="Prod", backend_type="webhook",
        backend_secrets={"hmac_key": "kept"},
    )  # fmt: skip
    client.force_login(owner)
    response = client.post(
        f"/systems/fraud/environments/{environment.pk}/",
        {
            "name": "Production",
            "is_production": "on",
            "backend_type": "webhook",
            "backend_config": "{}",
            "backend_secrets": "",
        },
    )
    assert response.status_code == 302
    environment.refresh_from_db()
    assert (environment.name, environment.is_production) == ("Production", True)
    assert environment.backend_secrets == {"hmac_key": "kept"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("backend_config", "[1, 2]", "Write a JSON object"),
        ("backend_config", "{not json", "Enter a valid JSON"),
        ("backend_secrets", '{"key": 5}', "JSON object of strings"),
        ("backend_type", "ftp", "Select a valid choice"),
    ],
)
def test_bad_environment_input_is_explained_and_nothing_is_saved(
    client, owner, fraud, field, value, message
):
    client.force_login(owner)
    data = {
        "name": "Canary",
        "backend_type": "webhook",
        "backend_config": "{}",
        "backend_secrets": "",
        field: value,
    }
    response = client.post("/systems/fraud/environments/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Environment.objects.exists()


@pytest.mark.django_db
def test_the_gate_policy_is_edited_on_the_page(client, owner, fraud):
    client.force_login(owner)
    response = client.post(
        "/systems/fraud/gate-policy/",
        {"required_criteria": ["benchmark", "latency"], "approvals_required": "3"},
    )
    assert response.status_code == 302
    policy = policy_for(fraud)
    assert (policy.required_criteria, policy.approvals_required) == (["benchmark", "latency"], 3)
    too_few = client.post(
        "/systems/fraud/gate-policy/",
        {"required_criteria": ["benchmark"], "approvals_required": "1"},
    )
    assert too_few.status_code == 400
    assert "needs at least 2 approvals" in too_few.content.decode()


@pytest.mark.django_db
def test_only_owners_change_environments_and_policy(client, viewer, fraud):
    client.force_login(viewer)
    assert (
        client.post(
            "/systems/fraud/environments/new/", {"name": "X", "backend_type": "local"}
        ).status_code
        == 403
    )
    assert (
        client.post("/systems/fraud/gate-policy/", {"approvals_required": "2"}).status_code == 403
    )

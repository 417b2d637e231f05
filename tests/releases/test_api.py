"""The releases API goes through the same services and answers errors as JSON."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from releases.models import Release, ReleaseStatus
from tests.fixtures.releases import CARD, stack


def post(client, path, data):  # type: ignore[no-untyped-def]
    return client.post(path, data, content_type="application/json")


def new_release(version="5.0.0", system="fraud"):  # type: ignore[no-untyped-def]
    return {
        "system": system,
        "version": version,
        "title": "Fraud model",
        "card": CARD,
        "components": stack(version),
        "change_categories": ["new_architecture"],
    }


@pytest.mark.django_db
def test_a_model_owner_registers_a_release(client, model_owner):
    client.force_login(model_owner)
    response = post(client, "/api/releases/", new_release())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert {c["kind"] for c in body["components"]} == {
        "model",
        "fusion",
        "threshold_policy",
        "sdk",
        "dataset",
        "evaluation",
    }
    assert body["gate"]["passed"] is False
    assert body["card"]["known_risks"] == CARD["known_risks"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"components": stack("1")[:3]}, "components"),
        ({"card": {**CARD, "why": ""}}, "card"),
        ({"change_categories": ["vibes"]}, "change_categories"),
        ({"version": ""}, "version"),
        ({"components": "not a list"}, "components"),
    ],
)
def test_bad_release_payloads_get_field_errors_and_nothing_is_written(
    client, model_owner, change, field
):
    client.force_login(model_owner)
    events = AuditEvent.objects.count()
    response = post(client, "/api/releases/", {**new_release(), **change})
    assert response.status_code == 400
    assert field in response.json()
    assert not Release.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_registering_on_an_unseen_system_is_404(client, model_owner, other_system):
    client.force_login(model_owner)
    assert post(client, "/api/releases/", new_release(system="hidden")).status_code == 404
    assert post(client, "/api/releases/", new_release(system="nope")).status_code == 404


@pytest.mark.django_db
def test_submit_refusal_lists_what_is_missing(client, model_owner, draft):
    client.force_login(model_owner)
    response = post(client, f"/api/releases/{draft.pk}/submit/", {})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "There is no rollback plan." in detail
    assert "Latency within budget has no gate check." in detail


@pytest.mark.django_db
def test_the_whole_flow_through_the_api(
    client, model_owner, release_manager, second_approver, production, rollback_owner
):
    client.force_login(model_owner)
    release_id = post(client, "/api/releases/", new_release()).json()["id"]
    for criterion in [
        "benchmark",
        "protected_segments",
        "latency",
        "calibration",
        "error_analysis",
        "rollback_ready",
        "owners_recorded",
    ]:
        check = {
            "criterion": criterion,
            "comparison": "attested",
            "attested_pass": True,
            "evidence_uri": f"https://wiki/{criterion}",
        }
        assert post(client, f"/api/releases/{release_id}/gate-checks/", check).status_code == 201
    plan = {
        "environment": "production",
        "owners": [rollback_owner.username],
        "mode": "manual",
        "cooldown_minutes": 30,
        "triggers": [
            {"metric": "p95_ms", "comparison": "gt", "threshold": "300", "window_minutes": 5}
        ],
    }
    response = client.put(
        f"/api/releases/{release_id}/rollback-plan/", plan, content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    assert post(client, f"/api/releases/{release_id}/submit/", {}).json()["status"] == "in_review"

    self_approval = post(
        client, f"/api/releases/{release_id}/approvals/", {"decision": "approve", "comment": "mine"}
    )
    assert self_approval.status_code == 403

    for approver in (release_manager, second_approver):
        client.force_login(approver)
        queue = client.get("/api/releases/approval-queue/").json()
        assert [r["id"] for r in queue["results"]] == [release_id]
        decided = post(
            client,
            f"/api/releases/{release_id}/approvals/",
            {"decision": "approve", "comment": "Gate evidence reviewed."},
        )
        assert decided.status_code == 201
        assert client.get("/api/releases/approval-queue/").json()["results"] == []

    detail = client.get(f"/api/releases/{release_id}/").json()
    assert detail["status"] == ReleaseStatus.APPROVED
    assert [a["approver"] for a in detail["approvals"]] == ["ravi", "rita"]

    promotion = post(
        client,
        f"/api/releases/{release_id}/promotions/",
        {"environment": "production", "stage": "shadow", "traffic_percent": "5"},
    )
    assert promotion.status_code == 202
    assert promotion.json()["status"] == "pending"


@pytest.mark.django_db
def test_a_submitted_release_cannot_be_changed_through_the_api(client, model_owner, submitted):
    client.force_login(model_owner)
    response = client.put(
        f"/api/releases/{submitted.pk}/", new_release("2.0.0"), content_type="application/json"
    )
    assert response.status_code == 400
    assert "frozen" in response.json()["detail"][0]


@pytest.mark.django_db
def test_environment_secrets_are_write_only(client, owner, fraud):
    client.force_login(owner)
    response = post(
        client,
        "/api/environments/",
        {
            "system": "fraud",
            "name": "Canary",
            "backend_type": "webhook",
            "backend_config": {"url": "https://deploy.example.com/hook"},
            "backend_secrets": {"hmac_key": "s3cr3t-value"},
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "backend_secrets" not in body
    assert body["backend_secrets_set"] == ["hmac_key"]
    listing = client.get("/api/environments/").content.decode()
    assert "s3cr3t-value" not in listing
    audit = "".join(str(e.after) for e in AuditEvent.objects.filter(action="environment.created"))
    assert "s3cr3t-value" not in audit


@pytest.mark.django_db
def test_environment_secrets_are_encrypted_at_rest(owner, fraud):
    from django.db import connection

    from releases import services

    services.create_environment(
        actor=owner,
        system=fraud,
        name="Prod",
        backend_type="webhook",
        backend_secrets={"hmac_key": "plain-text-secret"},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT backend_secrets::text FROM releases_environment")
        stored = cursor.fetchone()[0]
    assert "plain-text-secret" not in stored


@pytest.mark.django_db
def test_live_at_answers_which_release_was_live(client, viewer, live_release, production):
    client.force_login(viewer)
    response = client.get(f"/api/environments/{production.pk}/live/")
    assert response.status_code == 200
    assert response.json()["version"] == live_release.version
    before = client.get(f"/api/environments/{production.pk}/live/?at=2000-01-01T00:00:00Z")
    assert before.status_code == 404
    assert client.get(f"/api/environments/{production.pk}/live/?at=yesterday").status_code == 400


@pytest.mark.django_db
def test_gate_policy_is_read_by_all_and_edited_by_owners(client, owner, viewer, fraud):
    client.force_login(viewer)
    assert client.get("/api/systems/fraud/gate-policy/").json()["approvals_required"] == 2
    refused = client.put(
        "/api/systems/fraud/gate-policy/",
        {"required_criteria": ["benchmark"], "approvals_required": 2},
        content_type="application/json",
    )
    assert refused.status_code == 403
    client.force_login(owner)
    too_few = client.put(
        "/api/systems/fraud/gate-policy/",
        {"required_criteria": ["benchmark"], "approvals_required": 1},
        content_type="application/json",
    )
    assert too_few.status_code == 400
    assert "approvals_required" in too_few.json()

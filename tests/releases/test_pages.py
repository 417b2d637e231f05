"""The release pages: they render, their forms report errors inline, and they act."""

from __future__ import annotations

import pytest

from releases.models import Release, ReleaseStatus
from tests.fixtures.releases import CARD, stack
from tests.releases.plan_form import trigger_rows


def release_form_data(version="7.0.0", system="fraud"):  # type: ignore[no-untyped-def]
    data = {
        "system": "",
        "version": version,
        "title": "Seven",
        **CARD,
        "change_categories": ["new_channel"],
    }
    for component in stack(version):
        for part in ("version", "uri", "digest"):
            data[f"{component['kind']}_{part}"] = component[part]
    return data


@pytest.mark.django_db
def test_a_model_owner_registers_a_release_through_the_form(client, model_owner, fraud):
    client.force_login(model_owner)
    assert client.get("/releases/new/?system=fraud").status_code == 200
    response = client.post("/releases/new/", {**release_form_data(), "system": fraud.pk})
    assert response.status_code == 302
    release = Release.objects.get(version="7.0.0")
    assert response.url == f"/releases/{release.pk}/"
    assert release.components.count() == 6


@pytest.mark.django_db
def test_the_form_shows_service_errors_inline(client, model_owner, fraud):
    client.force_login(model_owner)
    data = {**release_form_data(), "system": fraud.pk, "model_digest": "not-a-digest"}
    response = client.post("/releases/new/", data)
    assert response.status_code == 400
    assert "the digest must be a sha256" in response.content.decode()
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_the_release_page_lists_what_blocks_submission(client, model_owner, draft, production):
    client.force_login(model_owner)
    html = client.get(f"/releases/{draft.pk}/").content.decode()
    assert "Before this release can be submitted" in html
    assert "There is no rollback plan." in html
    assert "Decision stack" in html and "model-2.0.0" in html


@pytest.mark.django_db
def test_submitting_too_early_answers_400_with_the_reasons(client, model_owner, draft):
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/submit/")
    assert response.status_code == 400
    assert "There is no rollback plan." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ReleaseStatus.DRAFT


@pytest.mark.django_db
def test_recording_a_gate_check_through_the_page(client, model_owner, draft):
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/gate-checks/",
        {
            "criterion": "latency",
            "comparison": "lte",
            "measured_value": "240",
            "target": "300",
            "unit": "ms",
            "evidence_uri": "https://grafana/d/latency",
        },
    )
    assert response.status_code == 302
    assert draft.gate_checks.get().passed


@pytest.mark.django_db
def test_a_gate_check_without_a_value_stays_on_the_page(client, model_owner, draft):
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/gate-checks/",
        {
            "criterion": "latency",
            "comparison": "lte",
            "target": "300",
            "evidence_uri": "https://g",
        },
    )
    assert response.status_code == 400
    assert "Give the measured value." in response.content.decode()


@pytest.mark.django_db
def test_writing_the_plan_through_the_page(client, model_owner, draft, production, rollback_owner):
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/plan/",
        {
            "environment": production.pk,
            "owners": [rollback_owner.pk],
            "mode": "auto_propose",
            "cooldown_minutes": "30",
            **trigger_rows(
                ("p95_latency_ms", "gt", "300", "5"), ("review_rate", "gte", "0.025", "15")
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = draft.rollback_plan
    assert [str(t) for t in plan.triggers.all()] == [
        "p95_latency_ms > 300.000000 for 5 min",
        "review_rate ≥ 0.025000 for 15 min",
    ]


@pytest.mark.django_db
def test_an_incomplete_trigger_row_is_explained(
    client, model_owner, draft, production, rollback_owner
):
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/plan/",
        {
            "environment": production.pk,
            "owners": [rollback_owner.pk],
            "mode": "manual",
            "cooldown_minutes": "30",
            **trigger_rows(("latency", "gt", "bad", "")),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a number." in html and "Give the window in minutes." in html
    assert not hasattr(draft, "rollback_plan")


@pytest.mark.django_db
def test_self_approval_is_refused_on_the_page(client, model_owner, submitted, owner, fraud):
    from governance import services as governance

    governance.grant_role(actor=owner, system=fraud, role="release_manager", user=model_owner)
    client.force_login(model_owner)
    page = client.get(f"/releases/{submitted.pk}/").content.decode()
    assert "The author of a release never approves it." in page
    assert "Record decision" not in page
    response = client.post(
        f"/releases/{submitted.pk}/approvals/", {"decision": "approve", "comment": "mine"}
    )
    assert response.status_code == 403
    assert not submitted.approvals.exists()


@pytest.mark.django_db
def test_approving_through_the_page(client, release_manager, submitted):
    client.force_login(release_manager)
    page = client.get(f"/releases/{submitted.pk}/").content.decode()
    assert "Record decision" in page
    response = client.post(
        f"/releases/{submitted.pk}/approvals/",
        {"decision": "approve", "comment": "Segments reviewed."},
    )
    assert response.status_code == 302
    assert submitted.approvals.get().comment == "Segments reviewed."


@pytest.mark.django_db
def test_the_queue_shows_what_waits_for_me(client, release_manager, model_owner, submitted):
    client.force_login(release_manager)
    assert submitted.version in client.get("/approvals/").content.decode()
    client.force_login(model_owner)  # the author: never in their own queue
    assert "Nothing waits for you." in client.get("/approvals/").content.decode()


@pytest.mark.django_db
def test_the_diff_compares_with_the_release_live_in_production(
    client, viewer, live_release, make_release
):
    newer = make_release("3.0.0")
    client.force_login(viewer)
    html = client.get(f"/releases/{newer.pk}/").content.decode()
    assert "against the release live in" in html
    assert "Major dataset refresh" in html
    partial = client.get(
        f"/releases/{newer.pk}/?compare=production",
        headers={"HX-Request": "true", "HX-Target": "release-diff"},
    )
    assert b"<html" not in partial.content
    assert b"model-2.0.0" in partial.content and b"model-3.0.0" in partial.content


@pytest.mark.django_db
def test_promoting_through_the_page(client, release_manager, approved, production):
    client.force_login(release_manager)
    response = client.post(
        f"/releases/{approved.pk}/promotions/",
        {"environment": production.pk, "stage": "shadow", "traffic_percent": "5"},
    )
    assert response.status_code == 302
    assert approved.rollout_steps.get().stage == "shadow"


@pytest.mark.django_db
def test_list_filters_by_system_and_status(client, viewer, submitted, make_release):
    other_draft = make_release("8.0.0")
    client.force_login(viewer)
    html = client.get("/releases/?status=in_review").content.decode()
    assert f">{submitted.version}<" in html
    assert f">{other_draft.version}<" not in html
    assert f">{other_draft.version}<" in client.get("/releases/?status=draft").content.decode()
    assert client.get("/releases/?status=bogus").status_code == 200


@pytest.mark.django_db
def test_environments_page(client, viewer, live_release, production):
    client.force_login(viewer)
    html = client.get("/systems/fraud/environments/").content.decode()
    assert "Production" in html and live_release.version in html


@pytest.mark.django_db
def test_the_history_holds_the_releases_events_and_those_of_its_parts(
    client, release_manager, approved
):
    client.force_login(release_manager)
    page = client.get(approved.get_absolute_url()).content.decode()
    history = page[page.index('id="history-title"') :]
    approver = release_manager.username
    assert "release.submitted" in history and "release.approve" in history
    assert f"Approve: {approved.version} by {approver}" in history
    assert "rollback_plan.saved" in history and "gate.recorded" in history

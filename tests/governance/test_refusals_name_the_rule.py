"""A refusal tells the person which rule refused them, on the page and in the API's 403."""

from __future__ import annotations

import pytest

from governance import services as governance

SELF_APPROVAL = "The author of a release never approves it."


@pytest.fixture
def author_and_approver(model_owner, owner, fraud):  # type: ignore[no-untyped-def]
    """The model owner who wrote the release also holds the approver's role."""
    governance.grant_role(actor=owner, system=fraud, role="release_manager", user=model_owner)
    return model_owner


@pytest.mark.django_db
def test_it_names_self_approval_on_the_refusal_page(client, author_and_approver, submitted):
    client.force_login(author_and_approver)
    response = client.post(
        f"/releases/{submitted.pk}/approvals/", {"decision": "approve", "comment": "mine"}
    )
    assert response.status_code == 403
    assert SELF_APPROVAL in response.content.decode()
    assert not submitted.approvals.exists()


@pytest.mark.django_db
def test_it_names_self_approval_in_the_api(client, author_and_approver, submitted):
    client.force_login(author_and_approver)
    response = client.post(
        f"/api/releases/{submitted.pk}/approvals/",
        {"decision": "approve", "comment": "mine"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == SELF_APPROVAL
    assert not submitted.approvals.exists()


@pytest.mark.django_db
def test_it_names_the_evidence_recorder_rule(  # type: ignore[no-untyped-def]
    client, release_manager, owner, fraud, make_release, production, rollback_owner
):
    """Whoever recorded gate evidence for a release does not decide on it either."""
    from tests.factories import ReadyReleaseFactory, SubmittedReleaseFactory

    governance.grant_role(actor=owner, system=fraud, role="model_owner", user=release_manager)
    release = ReadyReleaseFactory(
        release=make_release("4.0.0"), actor=release_manager, environment=production,
        rollback_owners=[rollback_owner],
    )  # fmt: skip
    SubmittedReleaseFactory(release=release, actor=release.author)
    client.force_login(release_manager)
    response = client.post(
        f"/api/releases/{release.pk}/approvals/",
        {"decision": "approve", "comment": "fine"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "recorded gate evidence" in response.json()["detail"]


@pytest.mark.django_db
def test_a_missing_role_names_the_roles_that_hold_it(client, viewer, submitted):
    client.force_login(viewer)
    response = client.post(
        f"/releases/{submitted.pk}/approvals/", {"decision": "approve", "comment": "yes"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "You may not approve, reject or send back releases on" in page
    assert "Release manager" in page
    api = client.post(
        f"/api/releases/{submitted.pk}/approvals/",
        {"decision": "approve", "comment": "yes"},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert "Release manager" in api.json()["detail"]

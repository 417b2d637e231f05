"""The releases app's world (its routes: tests/releases/routes.py): a release in every state
the routes act on (draft, ready, submitted, approved) and the production environment."""

from __future__ import annotations

import pytest

from governance import services as governance
from tests.factories import ApprovedReleaseFactory, SubmittedReleaseFactory, UserFactory


@pytest.fixture
def releases_world(
    people,
    fraud,
    model_owner,
    rollback_owner,
    owner,
    make_release,
    ready,
    production,
    second_approver,
):
    def submit(version: str):  # type: ignore[no-untyped-def]
        return SubmittedReleaseFactory(
            system=fraud,
            actor=model_owner,
            version=version,
            environment=production,
            rollback_owners=[rollback_owner],
            manual_plan=True,
            cooldown_minutes=5,
        )

    submitted, to_approve = submit("3.0.0"), submit("4.0.0")
    third_approver = UserFactory(username="rhys")
    governance.grant_role(
        actor=owner, system=to_approve.system, role="release_manager", user=third_approver
    )
    approved = ApprovedReleaseFactory(
        release=to_approve, approvers=[second_approver, third_approver]
    )
    ids = {
        "draft": make_release("5.0.0").pk,
        "ready": ready.pk,
        "submitted": submitted.pk,
        "approved": approved.pk,
        "production": production.pk,
        "fraud": approved.system_id,
    }
    return people, ids

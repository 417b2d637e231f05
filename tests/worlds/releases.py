"""The releases app's world (its routes: tests/releases/routes.py): a release in every state
the routes act on (draft, ready, submitted, approved: at shadow in production, paused: held
at shadow in staging) and the production and staging environments."""

from __future__ import annotations

import pytest

from governance import services as governance
from releases import services
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
    staging,
    second_approver,
    release_manager,
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

    # Rollouts under way, for the controls' routes: 4.0.0 at shadow in production; 6.0.0
    # paused at shadow in staging (elsewhere, so 4.0.0's promotions meet no other rollout).
    def at_shadow(release, environment):  # type: ignore[no-untyped-def]
        step = services.promote_release(
            actor=release_manager, release=release, environment=environment, stage="shadow",
            traffic_percent=5,
        )  # fmt: skip
        services.apply_rollout_step(step_id=step.pk)

    at_shadow(approved, production)
    paused = ApprovedReleaseFactory(
        release=submit("6.0.0"), approvers=[second_approver, third_approver]
    )
    at_shadow(paused, staging)
    pause = services.pause_rollout(actor=release_manager, release=paused, environment=staging)
    services.apply_rollout_step(step_id=pause.pk)
    ids = {
        "draft": make_release("5.0.0").pk,
        "ready": ready.pk,
        "submitted": submitted.pk,
        "approved": approved.pk,
        "production": production.pk,
        "paused": paused.pk,
        "staging": staging.pk,
        "fraud": approved.system_id,
    }
    return people, ids

"""Approvals: separation of duties, a quorum of distinct eligible approvers, void on change."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from governance import services as governance
from governance.roles import Role
from releases import services
from releases.models import ReleaseStatus
from tests.factories import UserFactory


def approve(release, actor, comment="Looks right."):  # type: ignore[no-untyped-def]
    return services.record_approval(
        actor=actor, release=release, decision="approve", comment=comment
    )


@pytest.mark.django_db
def test_the_author_never_approves_their_own_release(submitted, model_owner, owner, fraud):
    governance.grant_role(actor=owner, system=fraud, role=Role.RELEASE_MANAGER, user=model_owner)
    with pytest.raises(PermissionDenied, match="author"):
        approve(submitted, model_owner)


@pytest.mark.django_db
def test_who_recorded_gate_evidence_does_not_approve(ready, model_owner, release_manager):
    services.record_gate_check(
        actor=release_manager, release=ready, criterion="calibration", comparison="attested",
        attested_pass=True, evidence_uri="https://e",
    )  # fmt: skip
    release = services.submit_release(actor=model_owner, release=ready)
    with pytest.raises(PermissionDenied, match="gate evidence"):
        approve(release, release_manager)


@pytest.mark.django_db
def test_quorum_needs_distinct_eligible_approvers(submitted, release_manager, second_approver):
    approve(submitted, release_manager)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.IN_REVIEW  # high risk: two approvals

    with pytest.raises(ValidationError, match="already decided"):
        approve(submitted, release_manager)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.IN_REVIEW

    approve(submitted, second_approver)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.APPROVED
    assert submitted.decided_at is not None


@pytest.mark.django_db
def test_an_approver_who_lost_the_role_no_longer_counts(submitted, release_manager,
                                                        second_approver, owner, fraud):  # fmt: skip
    approve(submitted, release_manager)
    governance.revoke_role(
        actor=owner, grant=fraud.role_grants.get(user=release_manager, role=Role.RELEASE_MANAGER)
    )
    approve(submitted, second_approver)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.IN_REVIEW


@pytest.mark.django_db
def test_only_release_managers_decide(submitted, viewer, rollback_owner):
    for person in (viewer, rollback_owner):
        with pytest.raises(PermissionDenied):
            approve(submitted, person)


@pytest.mark.django_db
def test_a_comment_is_required(submitted, release_manager):
    with pytest.raises(ValidationError) as caught:
        services.record_approval(actor=release_manager, release=submitted, decision="approve",
                                 comment=" ")  # fmt: skip
    assert "comment" in caught.value.message_dict


@pytest.mark.django_db
def test_a_rejection_ends_the_review(submitted, release_manager, second_approver):
    services.record_approval(actor=release_manager, release=submitted, decision="reject",
                             comment="Recall gain not shown on mobile.")  # fmt: skip
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.REJECTED
    with pytest.raises(ValidationError, match="not in review"):
        approve(submitted, second_approver)


@pytest.mark.django_db
def test_changes_requested_sends_it_back_for_a_new_version(submitted, release_manager):
    services.record_approval(actor=release_manager, release=submitted, decision="request_changes",
                             comment="Add the segment analysis.")  # fmt: skip
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.CHANGES_REQUESTED


@pytest.mark.django_db
def test_a_draft_cannot_be_approved(draft, release_manager):
    with pytest.raises(ValidationError, match="not in review"):
        approve(draft, release_manager)


@pytest.mark.django_db
def test_an_approval_is_void_if_the_content_changed(submitted, release_manager, second_approver):
    """The database refuses edits; were one to slip past it, the approval would not count."""
    approve(submitted, release_manager)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE releases_release DISABLE TRIGGER releases_release_frozen")
        cursor.execute("UPDATE releases_release SET known_risks = 'none' WHERE id = %s",
                       [submitted.pk])  # fmt: skip
        cursor.execute("ALTER TABLE releases_release ENABLE TRIGGER releases_release_frozen")
    with pytest.raises(ValidationError, match="changed after it was submitted"):
        approve(submitted, second_approver)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.IN_REVIEW


@pytest.mark.django_db
def test_a_group_of_approvers_counts_member_by_member(submitted, release_manager, owner, fraud):
    from django.contrib.auth.models import Group

    board = Group.objects.create(name="model-risk-board")
    member = UserFactory(username="mira")
    member.groups.add(board)
    governance.grant_role(actor=owner, system=fraud, role=Role.RELEASE_MANAGER, group=board)
    approve(submitted, release_manager)
    approve(submitted, member)
    submitted.refresh_from_db()
    assert submitted.status == ReleaseStatus.APPROVED

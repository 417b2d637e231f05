"""Approving, rejecting or sending back a release, with separation of duties and a quorum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import get_users_with_perms

from governance import audit
from governance.permissions import require
from governance.roles import Action
from releases.content import content_digest
from releases.gates import evaluate, policy_for
from releases.models import Approval, Decision, Release, ReleaseStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _evidence_recorders(release: Release) -> set[int]:
    # Reads the prefetched gate checks when the page loaded them.
    return {check.recorded_by_id for check in release.gate_checks.all()}


def approval_conflicts(actor: User, release: Release) -> str | None:
    """Why `actor` may not decide on `release` (separation of duties), or None."""
    if release.author_id == actor.pk:
        return "The author of a release never approves it."
    if actor.pk in _evidence_recorders(release):
        return "You recorded gate evidence for this release, so someone else must decide on it."
    return None


def valid_approvals(release: Release) -> list[Approval]:
    """Approvals that count toward the quorum: for this very content, by people who may approve
    it today (the role still held, not the author, no gate evidence of theirs)."""
    approvers = get_users_with_perms(
        release.system,
        only_with_perms_in=[Action.APPROVE_RELEASE.value],
        with_group_users=True,
        with_superusers=True,
    )
    eligible = {user.pk for user in approvers if user.is_active}  # type: ignore[union-attr]
    excluded = _evidence_recorders(release) | {release.author_id}
    return [
        approval
        for approval in release.approvals.all()
        if approval.decision == Decision.APPROVE
        and approval.release_digest == release.content_digest  # else it approved other content
        and approval.approver_id in eligible - excluded
    ]


@transaction.atomic
def record_approval(*, actor: User, release: Release, decision: str, comment: str) -> Approval:
    """One decision per approver. Enough valid approvals approve; one rejection ends the review."""
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    system = release.system
    require(actor, Action.APPROVE_RELEASE, system)
    conflict = approval_conflicts(actor, release)
    if conflict:
        raise PermissionDenied(conflict)
    if release.status != ReleaseStatus.IN_REVIEW:
        raise ValidationError(
            f"This release is {release.get_status_display().lower()}, not in review."
        )
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Unknown decision {decision!r}."})
    if not comment.strip():
        raise ValidationError({"comment": "Say why: the comment is part of the record."})
    digest = content_digest(release)
    if digest != release.content_digest:
        # The database refuses edits of a submitted release; this catches anything that slipped by.
        raise ValidationError("The release changed after it was submitted; it cannot be approved.")
    policy = policy_for(system)
    if decision == Decision.APPROVE and not evaluate(release, policy).passed:
        raise ValidationError(
            "A required gate criterion no longer passes; the release cannot be approved."
        )

    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                release=release, approver=actor, decision=decision, comment=comment.strip(),
                release_digest=digest,
            )  # fmt: skip
    except IntegrityError:
        raise ValidationError("You have already decided on this release.") from None

    before_status = release.status
    if decision == Decision.REJECT:
        release.status = ReleaseStatus.REJECTED
    elif decision == Decision.REQUEST_CHANGES:
        release.status = ReleaseStatus.CHANGES_REQUESTED
    elif len(valid_approvals(release)) >= policy.approvals_required:
        release.status = ReleaseStatus.APPROVED
    if release.status != before_status:
        release.decided_at = timezone.now()
        release.save(update_fields=["status", "decided_at"])

    audit.record_event(
        actor=actor, action=f"release.{decision}", obj=approval, system=system,
        before={"status": before_status},
        after={"status": release.status, "decision": decision, "comment": approval.comment,
               "release": release.pk, "release_digest": digest},
    )  # fmt: skip
    return approval

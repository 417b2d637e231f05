"""Approving, rejecting or sending back a release, with separation of duties and a quorum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import audit
from governance.permissions import people_of, require
from governance.roles import Action
from governance.validators import check_value
from releases import rollback_hooks
from releases.content import content_digest
from releases.gate_policy import evaluate, policy_for
from releases.models import (
    Approval,
    Decision,
    Release,
    ReleaseStatus,
    RollbackRequest,
    RollbackStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _evidence_recorders(release: Release) -> set[int]:
    # Reads the prefetched gate checks when the page loaded them. A drill's check is the
    # machine's verdict, not its runner's judgement: running a drill does not bar approving.
    # Nor is the registry intake's reading of the training run (no recorder at all).
    return {
        check.recorded_by_id
        for check in release.gate_checks.all()
        if check.drill_id is None and check.recorded_by_id is not None
    }


def approval_conflicts(actor: User, release: Release) -> str | None:
    """Why `actor` may not decide on `release` (separation of duties), or None."""
    if release.author_id == actor.pk:
        return "The author of a release never approves it."
    if actor.pk in _evidence_recorders(release):
        return "You recorded gate evidence for this release, so someone else must decide on it."
    return None


def valid_approvals(release: Release, cites: RollbackRequest | None = None) -> list[Approval]:
    """Approvals that count toward the quorum: for this very content, by people who may approve
    it today (the role still held, not the author, no gate evidence of theirs). `cites`: the
    quorum for a rolled-back release's return, which counts approvals citing that rollback."""
    eligible = set(
        people_of(release.system, Action.APPROVE_RELEASE, with_superusers=True).values_list(
            "pk", flat=True
        )
    )
    excluded = _evidence_recorders(release) | {release.author_id}
    cited = cites.pk if cites is not None else None
    return [
        approval
        for approval in release.approvals.all()
        if approval.decision == Decision.APPROVE
        and approval.cites_rollback_id == cited
        and approval.release_digest == release.content_digest  # else it approved other content
        and approval.approver_id in eligible - excluded
    ]


def takedown_of(release: Release) -> RollbackRequest | None:
    """The rollback that took a rolled-back release down: the last one that succeeded."""
    if release.status != ReleaseStatus.ROLLED_BACK:
        return None
    return (
        RollbackRequest.objects.filter(
            from_release=release, status=RollbackStatus.SUCCEEDED, is_drill=False
        )
        .select_related("environment")
        .order_by("-finished_at", "-id")
        .first()
    )


@transaction.atomic
def record_approval(
    *,
    actor: User,
    release: Release,
    decision: str,
    comment: str,
    cites_rollback: RollbackRequest | None = None,
) -> Approval:
    """One decision per approver. Enough valid approvals approve; one rejection ends the review.

    A rolled-back release comes back the same way, through a new quorum whose decisions cite
    the rollback that took it down (and so the incident behind it): approved, it may be
    promoted again; rejected, it stays rolled back.
    """
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
    takedown = takedown_of(release)
    if takedown is not None:
        _check_return(release, takedown, decision, cites_rollback)
    elif release.status != ReleaseStatus.IN_REVIEW:
        raise ValidationError(
            f"This release is {release.get_status_display().lower()}, not in review."
        )
    elif cites_rollback is not None:
        raise ValidationError(
            {"cites_rollback": "Only the return of a rolled-back release cites a rollback."}
        )
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Unknown decision {decision!r}."})
    if not comment.strip():
        raise ValidationError({"comment": "Say why: the comment is part of the record."})
    check_value(Approval, "comment", comment.strip())
    digest = content_digest(release)
    if digest != release.content_digest:
        # The database refuses edits of a submitted release; this catches anything that slipped by.
        raise ValidationError("The release changed after it was submitted; it cannot be approved.")
    policy = policy_for(system)
    # A return is judged on the incident: the content, and so its gate, are what was approved.
    if takedown is None and decision == Decision.APPROVE and not evaluate(release, policy).passed:
        raise ValidationError(
            "A required gate criterion no longer passes; the release cannot be approved."
        )

    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                release=release, approver=actor, decision=decision, comment=comment.strip(),
                release_digest=digest, cites_rollback=takedown,
            )  # fmt: skip
    except IntegrityError:
        raise ValidationError("You have already decided on this release.") from None

    before_status = release.status
    if takedown is not None:
        if (
            decision == Decision.APPROVE
            and len(valid_approvals(release, takedown)) >= policy.approvals_required
        ):
            release.status = ReleaseStatus.APPROVED
    elif decision == Decision.REJECT:
        release.status = ReleaseStatus.REJECTED
    elif decision == Decision.REQUEST_CHANGES:
        release.status = ReleaseStatus.CHANGES_REQUESTED
    elif len(valid_approvals(release)) >= policy.approvals_required:
        release.status = ReleaseStatus.APPROVED
    if release.status != before_status:
        release.decided_at = timezone.now()
        release.save(update_fields=["status", "decided_at"])

    after = {
        "status": release.status, "decision": decision, "comment": approval.comment,
        "release": release.pk, "release_digest": digest,
    }  # fmt: skip
    if takedown is not None:
        after["cites_rollback"] = takedown.pk
        after.update(rollback_hooks.cited(takedown))
    audit.record_event(
        actor=actor, action=f"release.{decision}", obj=approval, system=system,
        before={"status": before_status}, after=after,
    )  # fmt: skip
    return approval


def _check_return(
    release: Release, takedown: RollbackRequest, decision: str, cites: RollbackRequest | None
) -> None:
    if cites is None or cites.pk != takedown.pk:
        raise ValidationError(
            {
                "cites_rollback": f"{release.version} was rolled back (rollback {takedown.pk}); "
                "an approval of its return must cite that rollback."
            }
        )
    if decision == Decision.REQUEST_CHANGES:
        raise ValidationError(
            {"decision": "A rolled-back release does not change: approve or reject its return."}
        )
    refused = release.approvals.filter(cites_rollback=takedown, decision=Decision.REJECT).first()
    if refused is not None:
        raise ValidationError("Its return was rejected already; it stays rolled back.")

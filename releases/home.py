"""What releases put on the home page (governance.dashboard): rollbacks in flight and the
releases waiting for the signed-in person. Six queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from governance.dashboard import LIST_SIZE, Contribution, Tile
from governance.permissions import restrict
from releases.models import Release, ReleaseStatus, RollbackRequest, RollbackStatus
from releases.queries import approval_queue

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def home_contribution(user: User) -> Contribution:
    in_flight = restrict(
        RollbackRequest.objects.filter(status__in=RollbackStatus.active()),
        user,
        via="environment__system",
    )
    rollbacks_count = in_flight.count()
    rollbacks = list(
        in_flight.select_related("environment__system", "from_release", "to_release").order_by(
            "requested_at", "id"
        )[:LIST_SIZE]
    )

    # Waiting for me: a decision only I can still give, or my own release sent back to me.
    to_decide = approval_queue(user)
    decide_count = to_decide.count()
    decide = list(to_decide[:LIST_SIZE])
    sent_back = restrict(
        Release.objects.filter(author=user, status=ReleaseStatus.CHANGES_REQUESTED), user
    ).select_related("system")
    sent_back_count = sent_back.count()
    mine = list(sent_back.order_by("-decided_at", "-id")[:LIST_SIZE])

    waiting = decide_count + sent_back_count
    return Contribution(
        tiles=[
            Tile(
                "Rollbacks in flight",
                rollbacks_count,
                reverse("releases:release-list"),
                note="proposed, requested or running",
                alert=any(r.status == RollbackStatus.PROPOSED for r in rollbacks),
            ),
            Tile(
                "Waiting for me",
                waiting,
                reverse("releases:approval-queue"),
                note="approvals, your changes",
            ),
        ],
        panels=[
            (
                "releases/_home_releases.html",
                {
                    "rollbacks": rollbacks,
                    "rollbacks_count": rollbacks_count,
                    "decide": decide,
                    "decide_count": decide_count,
                    "mine": mine,
                    "sent_back_count": sent_back_count,
                    "waiting": waiting,
                },
            )
        ],
    )

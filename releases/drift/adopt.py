"""Adopting what a drift put live: the only way an ungoverned change enters the record.

Never silently: a release manager (the approve-release role) adopts, with a reason, a release
that went through Failsafe's approval quorum (approved, rolling out, live elsewhere or
superseded; a draft, a rejected release or one rolled back is refused: it needs its approval
first, which can cite the drift). The adoption records the deployment period (via "adopt"),
resolves the drift and says so on the incident's timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.limits import NOTE
from governance.people import display_name
from governance.permissions import require
from governance.roles import Action
from releases.drift import hooks, notices
from releases.drift.reconcile import drift_state
from releases.models import Deployment, Drift, DriftResolution, Environment, Release, ReleaseStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ADOPTABLE = frozenset(
    {
        ReleaseStatus.APPROVED,
        ReleaseStatus.ROLLING_OUT,
        ReleaseStatus.LIVE,
        ReleaseStatus.SUPERSEDED,
    }
)


@transaction.atomic
def adopt_drift(*, actor: User, drift: Drift, reason: str) -> Drift:
    """Make the release the backend reports the recorded one: (drift, resolved as adopted)."""
    environment = Environment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=drift.environment_id
    )
    require(actor, Action.APPROVE_RELEASE, environment.system)
    drift = (
        Drift.objects.select_for_update(of=("self",))
        .select_related("recorded_release", "observed_release")
        .get(pk=drift.pk)
    )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the observed release may stay live."})
    if len(reason) > NOTE:
        raise ValidationError({"reason": f"At most {NOTE} characters."})
    if not drift.is_open:
        raise ValidationError("This drift is resolved already.")
    release = drift.observed_release
    if release is None:
        raise ValidationError(
            f"The backend reports {drift.observed_label}, which is no Failsafe release: "
            "register it, have it approved, then adopt it, or roll back."
        )
    release = Release.objects.select_for_update(no_key=True).get(pk=release.pk)
    if release.status not in ADOPTABLE:
        raise ValidationError(
            f"{release.version} is {release.get_status_display().lower()}: only a release "
            "that passed its approval quorum can be adopted. Have it approved (citing this "
            "drift), then adopt it."
        )
    before = drift_state(drift)
    now = timezone.now()
    previous = Deployment.objects.filter(environment=environment, ended_at__isnull=True).first()
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
        still_live = Deployment.objects.filter(
            release_id=previous.release_id, ended_at__isnull=True
        )
        if previous.release_id != release.pk and not still_live.exists():
            Release.objects.filter(pk=previous.release_id).update(status=ReleaseStatus.SUPERSEDED)
    Deployment.objects.create(environment=environment, release=release, started_at=now, via="adopt")
    Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.LIVE)
    drift.resolved_at, drift.resolution, drift.resolved_by = now, DriftResolution.ADOPTED, actor
    drift.save(update_fields=["resolved_at", "resolution", "resolved_by"])
    audit.record_event(
        actor=actor, action="drift.adopted", obj=drift, system=environment.system,
        before=before, after={**drift_state(drift), "reason": reason},
    )  # fmt: skip
    message = (
        f"{display_name(actor)} adopted {release.version} in {environment.name}: it is the "
        f"recorded release now, in place of {drift.recorded_release.version}. {reason}"
    )
    hooks.notify(drift, "adopted", message)
    notices.schedule(drift, "adopted", message)
    return drift

"""Pause, resume and abort a release's rollout in an environment, as Argo Rollouts' dashboard
does: each is a rollout step (releases.services.rollouts) the backend applies in a task.

Failsafe's own part holds at once, whatever the backend does: a pause makes the gate refuse
further promotions of the release there until a resume; an abort sends the candidate's
traffic back to the stable release, stops the stage's analysis, and makes the rollout start
over (the gate reads only the steps since).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance import audit
from governance.limits import NOTE
from governance.permissions import require
from governance.roles import Action
from releases.models import (
    Deployment,
    Environment,
    Release,
    ReleaseStatus,
    RolloutStep,
    StepAction,
    StepStatus,
)
from releases.services import analysis as analyses
from releases.services.rollouts import send_step

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class RolloutState:
    """Where a release's rollout stands in an environment, since its last abort."""

    current: RolloutStep | None  # the latest promotion not failed
    paused_by: RolloutStep | None  # the pause in force, if one

    @property
    def under_way(self) -> bool:
        return self.current is not None


def rollout_state(steps: list[RolloutStep], environment_id: int) -> RolloutState:
    """From a release's steps (in order), its rollout in one environment."""
    here = [s for s in steps if s.environment_id == environment_id]
    aborts = [i for i, s in enumerate(here) if s.action == StepAction.ABORT]
    since = here[aborts[-1] + 1 :] if aborts else here
    promotions = [
        s for s in since if s.action == StepAction.PROMOTE and s.status != StepStatus.FAILED
    ]
    controls = [s for s in since if s.is_control]
    paused = controls[-1] if controls and controls[-1].action == StepAction.PAUSE else None
    return RolloutState(current=promotions[-1] if promotions else None, paused_by=paused)


@transaction.atomic
def pause_rollout(
    *, actor: User, release: Release, environment: Environment, reason: str = ""
) -> RolloutStep:
    """Hold the release's rollout in `environment`: no promotion there until it is resumed."""
    release, state = _locked(actor, release, environment)
    if state.paused_by is not None:
        raise ValidationError(f"The rollout in {environment.name} is paused already.")
    return _control(actor, release, environment, state, StepAction.PAUSE, reason)


@transaction.atomic
def resume_rollout(*, actor: User, release: Release, environment: Environment) -> RolloutStep:
    """Lift a pause: promotions may go on."""
    release, state = _locked(actor, release, environment, any_state=True)
    if state.paused_by is None:
        raise ValidationError(f"The rollout in {environment.name} is not paused.")
    return _control(actor, release, environment, state, StepAction.RESUME, "")


@transaction.atomic
def abort_rollout(
    *, actor: User, release: Release, environment: Environment, reason: str
) -> RolloutStep:
    """Send the candidate's traffic back to the stable release and end this rollout; the
    release may start over (it is approved again) with a new promotion."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the rollout is aborted."})
    release, state = _locked(actor, release, environment)
    if Deployment.objects.filter(
        environment=environment, release=release, ended_at__isnull=True
    ).exists():
        raise ValidationError(
            f"{release.version} is live in {environment.name}: roll back instead of aborting."
        )
    now = timezone.now()
    # A promotion not yet applied goes no further: the abort overtakes it.
    overtaken = RolloutStep.objects.filter(
        release=release, environment=environment, status=StepStatus.PENDING,
        action=StepAction.PROMOTE,
    )  # fmt: skip
    overtaken.update(
        status=StepStatus.FAILED, applied_at=now, error="Aborted before it was applied."
    )
    analyses.cancel_analyses(
        release=release, environment_id=environment.pk, now=now,
        why="The rollout was aborted.",
    )  # fmt: skip
    step = _control(actor, release, environment, state, StepAction.ABORT, reason)
    if release.status == ReleaseStatus.ROLLING_OUT and not _rolling_out_elsewhere(
        release, environment
    ):
        release.status = ReleaseStatus.APPROVED  # as before its first step: it may start over
        release.save(update_fields=["status"])
        audit.record_event(
            actor=actor, action="release.rollout_aborted", obj=release, system=release.system,
            before={"status": ReleaseStatus.ROLLING_OUT}, after={"status": release.status},
        )  # fmt: skip
    return step


def _rolling_out_elsewhere(release: Release, environment: Environment) -> bool:
    """Whether the release's rollout is still under way in another environment."""
    steps = list(
        release.rollout_steps.exclude(environment=environment).order_by("requested_at", "id")
    )
    return any(
        rollout_state(steps, environment_id).under_way
        for environment_id in {s.environment_id for s in steps}
    )


def _locked(
    actor: User, release: Release, environment: Environment, *, any_state: bool = False
) -> tuple[Release, RolloutState]:
    # The release row serialises controls and promotions of its rollout.
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    require(actor, Action.PROMOTE_RELEASE, release.system)
    if environment.system_id != release.system_id:
        raise ValidationError({"environment": "Choose an environment of this system."})
    steps = list(
        release.rollout_steps.filter(environment=environment).order_by("requested_at", "id")
    )
    state = rollout_state(steps, environment.pk)
    if not state.under_way and not any_state:
        raise ValidationError(f"{release.version} has no rollout under way in {environment.name}.")
    return release, state


def _control(
    actor: User,
    release: Release,
    environment: Environment,
    state: RolloutState,
    action: StepAction,
    reason: str,
) -> RolloutStep:
    reason = reason.strip()
    if len(reason) > NOTE:
        raise ValidationError({"reason": f"At most {NOTE} characters."})
    current = state.current
    step = RolloutStep.objects.create(
        release=release, environment=environment, action=action,
        stage=current.stage if current else state.paused_by.stage,  # type: ignore[union-attr]
        traffic_percent=current.traffic_percent if current else 0,
        requested_by=actor, enqueued_at=timezone.now(), reason=reason,
    )  # fmt: skip
    audit.record_event(
        actor=actor, action=f"rollout.{action}_requested", obj=step, system=release.system,
        after={"release": release.version, "environment": environment.slug,
               "stage": step.stage, "idempotency_key": str(step.idempotency_key),
               **({"reason": reason} if reason else {})},
    )  # fmt: skip
    transaction.on_commit(lambda: send_step(step.pk))
    return step

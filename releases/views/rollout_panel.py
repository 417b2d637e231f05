"""The release page's rollout panel: the steps as they stand, each environment's soak clock
and its controls (pause, resume, abort). htmx polls it while a step is being applied, and
slowly while a soak runs, so a step that lands shows without a reload; it reads in a fixed
number of queries. The controls' actions call their services like the page's other forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from governance.http import AuthenticatedHttpRequest
from governance.permissions import allowed_actions
from governance.roles import Action
from releases import queries, services
from releases.forms import RolloutControlForm
from releases.models import Environment, Release, RolloutStep, StepStatus
from releases.services.deploy_gate import PROMOTABLE, soak_clock
from releases.services.rollout_controls import RolloutState, rollout_state

POLL_IN_FLIGHT = 2  # seconds between polls while a step is being applied
POLL_SOAKING = 30  # while a stage soaks: the clock moves by the minute


@dataclass(frozen=True)
class EnvironmentRollout:
    environment: Environment
    state: RolloutState
    live: bool  # the release is live there: a rollback, not an abort, takes it back
    soaked: int | None  # minutes the current stage has soaked, of `soak_required`
    soak_required: int | None

    @property
    def soak_done(self) -> bool:
        return self.soaked is not None and self.soaked >= (self.soak_required or 0)

    @property
    def soak_percent(self) -> int:
        if not self.soak_required or self.soaked is None:
            return 0
        return min(100, round(100 * self.soaked / self.soak_required))


def panel(
    release: Release,
    steps: list[RolloutStep],
    *,
    actions: frozenset[Action],
    soak_minutes: dict[str, int],
    live_environment_ids: set[int],
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the panel shows, from the release's steps (in order, environments joined)."""
    now = now or timezone.now()
    environments: dict[int, Environment] = {}
    for step in steps:
        environments.setdefault(step.environment_id, step.environment)
    rows = []
    for environment_id, environment in environments.items():
        state = rollout_state(steps, environment_id)
        current = state.current
        clock = (
            soak_clock(current.stage, current.applied_at, soak_minutes, now)
            if current is not None and current.status == StepStatus.APPLIED
            else None
        )
        rows.append(
            EnvironmentRollout(
                environment=environment,
                state=state,
                live=environment_id in live_environment_ids,
                soaked=clock[0] if clock else None,
                soak_required=clock[1] if clock else None,
            )
        )
    in_flight = any(step.status == StepStatus.PENDING for step in steps)
    soaking = any(row.soak_required and not row.soak_done for row in rows)
    return {
        "steps": steps,
        "environments": rows,
        "can_control": Action.PROMOTE_RELEASE in actions and release.status in PROMOTABLE,
        "poll": POLL_IN_FLIGHT if in_flight else (POLL_SOAKING if soaking else None),
    }


@require_GET
def release_rollout(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    release, steps, soak_minutes, live = queries.release_rollout(pk, request.user)
    rollout = panel(
        release, steps, actions=allowed_actions(request.user, release.system),
        soak_minutes=soak_minutes, live_environment_ids=live,
    )  # fmt: skip
    return render(request, "releases/_rollout.html", {"release": release, "rollout": rollout})


def _control(request: AuthenticatedHttpRequest, pk: int, call: Any, done: str) -> HttpResponse:
    from releases.views.release_page import page_context

    release = queries.release_detail(pk, request.user)
    form = RolloutControlForm(request.POST, release=release)
    errors: list[str] = []
    if form.is_valid():
        environment = form.cleaned_data["environment"]
        try:
            call(
                actor=request.user, release=release, environment=environment,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(request, f"{done} in {environment.name}.")
            url = release.get_absolute_url() + "#rollout"
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    context = page_context(request, release, errors=errors)
    return render(request, "releases/release_detail.html", context, status=400)


@require_POST
def rollout_pause(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _control(request, pk, services.pause_rollout, "Rollout paused")


@require_POST
def rollout_resume(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def resume(*, reason: str, **kwargs: Any) -> Any:
        return services.resume_rollout(**kwargs)

    return _control(request, pk, resume, "Rollout resumed")


@require_POST
def rollout_abort(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _control(
        request, pk, services.abort_rollout,
        "Rollout aborted: the candidate's traffic goes back to the stable release",
    )  # fmt: skip

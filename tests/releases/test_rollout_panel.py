"""The release page's rollout panel: polled while a step is in flight, cheap to poll, and
showing skips, soak clocks and the controls to whom may use them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from releases import services
from releases.models import RolloutStep, StepStatus

POLL = re.compile(r'hx-trigger="every (\d+)s"')


def promote(release, actor, environment, stage, **extra):  # type: ignore[no-untyped-def]
    return services.promote_release(
        actor=actor, release=release, environment=environment, stage=stage, traffic_percent=10,
        **extra,
    )  # fmt: skip


def panel(client, release) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/releases/{release.pk}/rollout/")
    assert response.status_code == 200
    return response.content.decode()


def queries_of(client, release) -> int:  # type: ignore[no-untyped-def]
    client.get(f"/releases/{release.pk}/rollout/")  # warm process-wide caches
    with CaptureQueriesContext(connection) as captured:
        panel(client, release)
    return len(captured)


@pytest.mark.django_db
def test_polling_the_panel_costs_the_same_with_2_and_40_steps(  # type: ignore[no-untyped-def]
    client, approved, model_owner, production, staging
):
    client.force_login(model_owner)
    for environment in (production, staging):
        step = promote(approved, model_owner, environment, "shadow")
        services.apply_rollout_step(step_id=step.pk)
    few = queries_of(client, approved)
    for _ in range(19):
        for environment in (production, staging):
            step = promote(approved, model_owner, environment, "shadow")
            services.apply_rollout_step(step_id=step.pk)
    pause = services.pause_rollout(actor=model_owner, release=approved, environment=staging)
    services.apply_rollout_step(step_id=pause.pk)
    many = queries_of(client, approved)
    assert many == few
    # The session and user, the release, its steps, the policy's soaks, where it is live,
    # and the viewer's roles: a poll every 2 s stays this cheap.
    assert few <= 8, few


@pytest.mark.django_db
def test_it_polls_fast_while_a_step_is_in_flight_and_stops_after(  # type: ignore[no-untyped-def]
    client, approved, model_owner, production
):
    client.force_login(model_owner)
    assert not POLL.search(panel(client, approved))  # nothing to wait for
    step = promote(approved, model_owner, production, "shadow")
    html = panel(client, approved)
    assert POLL.search(html).group(1) == "2"  # type: ignore[union-attr]
    assert 'data-status="pending"' in html
    services.apply_rollout_step(step_id=step.pk)
    html = panel(client, approved)
    assert 'data-status="applied"' in html and not POLL.search(html)


@pytest.mark.django_db
def test_it_shows_the_soak_clock_and_polls_slowly_while_a_stage_soaks(  # type: ignore[no-untyped-def]
    client, approved, model_owner, production, owner, fraud
):
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        soak_minutes={"shadow": 60},
    )  # fmt: skip
    client.force_login(model_owner)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        step = promote(approved, model_owner, production, "shadow")
        services.apply_rollout_step(step_id=step.pk)
        clock.shift(timedelta(minutes=12))
        html = panel(client, approved)
        assert "Shadow / guarded has soaked 12 of 60 minutes" in html
        assert POLL.search(html).group(1) == "30"  # type: ignore[union-attr]
        clock.shift(timedelta(minutes=50))
        html = panel(client, approved)
        assert "soaked 62 of 60 minutes: ready to move on" in html
        assert not POLL.search(html)


@pytest.mark.django_db
def test_it_shows_a_skip_and_its_reason_beside_the_step(  # type: ignore[no-untyped-def]
    client, approved, release_manager, production
):
    step = promote(approved, release_manager, production, "shadow")
    services.apply_rollout_step(step_id=step.pk)
    promote(approved, release_manager, production, "general_release",
            skip_reason="Segment checks ran in the shadow stage.")  # fmt: skip
    client.force_login(release_manager)
    html = panel(client, approved)
    assert "Skipped ahead:" in html
    assert "Segment monitoring comes before General release" in html
    assert "Segment checks ran in the shadow stage." in html


@pytest.mark.django_db
def test_the_controls_show_to_promoters_only(  # type: ignore[no-untyped-def]
    client, approved, model_owner, viewer, production
):
    step = promote(approved, model_owner, production, "shadow")
    services.apply_rollout_step(step_id=step.pk)
    client.force_login(viewer)
    html = panel(client, approved)
    assert "rollout/pause/" not in html and "rollout/abort/" not in html
    client.force_login(model_owner)
    html = panel(client, approved)
    assert "rollout/pause/" in html and "rollout/abort/" in html
    services.pause_rollout(actor=model_owner, release=approved, environment=production)
    html = panel(client, approved)
    assert "rollout/resume/" in html and "Paused by" in html


@pytest.mark.django_db
def test_the_page_forms_pause_resume_and_abort(  # type: ignore[no-untyped-def]
    client, approved, model_owner, production
):
    step = promote(approved, model_owner, production, "shadow")
    services.apply_rollout_step(step_id=step.pk)
    client.force_login(model_owner)
    base = f"/releases/{approved.pk}/rollout"
    assert client.post(f"{base}/pause/", {"environment": production.pk}).status_code == 302
    refused = client.post(f"{base}/pause/", {"environment": production.pk})
    assert refused.status_code == 400 and "paused already" in refused.content.decode()
    assert client.post(f"{base}/resume/", {"environment": production.pk}).status_code == 302
    refused = client.post(f"{base}/abort/", {"environment": production.pk, "reason": ""})
    assert refused.status_code == 400 and "Say why the rollout is aborted." in (
        refused.content.decode()
    )
    done = client.post(f"{base}/abort/", {"environment": production.pk, "reason": "bad canary"})
    assert done.status_code == 302
    abort = RolloutStep.objects.get(action="abort")
    assert (abort.reason, abort.status) == ("bad canary", StepStatus.PENDING)


@pytest.mark.django_db
def test_the_promotion_form_takes_a_skip_reason(  # type: ignore[no-untyped-def]
    client, approved, release_manager, production
):
    step = promote(approved, release_manager, production, "shadow")
    services.apply_rollout_step(step_id=step.pk)
    client.force_login(release_manager)
    url = f"/releases/{approved.pk}/promotions/"
    form = {"environment": production.pk, "stage": "general_release", "traffic_percent": "100"}
    refused = client.post(url, form)
    assert refused.status_code == 400
    assert "Say why the rollout skips ahead" in refused.content.decode()
    done = client.post(url, {**form, "skip_reason": "approved hotfix"})
    assert done.status_code == 302
    assert RolloutStep.objects.filter(reason="approved hotfix", stage="general_release").exists()


@pytest.mark.django_db
def test_after_an_abort_the_form_starts_the_rollout_over(  # type: ignore[no-untyped-def]
    client, approved, model_owner, production
):
    step = promote(approved, model_owner, production, "shadow")
    services.apply_rollout_step(step_id=step.pk)
    services.abort_rollout(actor=model_owner, release=approved, environment=production,
                           reason="bad canary")  # fmt: skip
    client.force_login(model_owner)
    form = client.get(f"/releases/{approved.pk}/").context["promotion_form"]
    assert form.initial == {"environment": production.pk}

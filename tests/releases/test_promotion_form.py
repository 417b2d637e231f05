"""The promotion form after a promotion: the next stage in order, in the same environment;
and a warning, naming it, when another release is mid-rollout in that environment."""

from __future__ import annotations

import re
from unittest import mock

import pytest

from releases import services
from releases.models import RolloutStep
from releases.services import rollouts

pytestmark = pytest.mark.django_db


def _selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return chosen.group(1) if chosen else ""


def _promote(release, actor, environment, stage, traffic=5):  # type: ignore[no-untyped-def]
    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=actor, release=release, environment=environment, stage=stage,
            traffic_percent=traffic,
        )  # fmt: skip
    services.apply_rollout_step(step_id=step.pk)
    return step


def test_after_a_promotion_the_form_offers_the_next_stage(
    client, release_manager, approved, staging, production
):
    client.force_login(release_manager)
    html = client.get(f"/releases/{approved.pk}/").content.decode()
    assert _selected(html, "stage") == "offline_validation"  # nothing yet: the first stage
    _promote(approved, release_manager, production, "shadow", traffic=5)
    html = client.get(f"/releases/{approved.pk}/").content.decode()
    assert _selected(html, "stage") == "segment_monitoring"
    assert _selected(html, "environment") == str(production.pk)


def test_promoting_beside_a_release_mid_rollout_warns_and_names_it(
    client, release_manager, live_release, successor, production, make_release
):
    from tests.factories.releases import ApprovedReleaseFactory

    # 2.1.0 is live; 2.2.0 is at shadow in production; now 2.3.0 is to be promoted there.
    mid = ApprovedReleaseFactory(
        system=production.system, actor=successor.author, version="2.2.0",
        environment=production, rollback_owners=list(successor.rollback_plan.owners.all()),
        manual_plan=True, approvers=[release_manager, *_others(successor, release_manager)],
    )  # fmt: skip
    _promote(mid, release_manager, production, "shadow", traffic=10)
    other = ApprovedReleaseFactory(
        system=production.system, actor=successor.author, version="2.3.0",
        environment=production, rollback_owners=list(successor.rollback_plan.owners.all()),
        manual_plan=True, approvers=[release_manager, *_others(successor, release_manager)],
    )  # fmt: skip
    client.force_login(release_manager)
    html = client.get(f"/releases/{other.pk}/").content.decode()
    assert "2.2.0</a> is mid-rollout in Production: shadow / guarded, 10 %" in html

    form = {"environment": production.pk, "stage": "shadow", "traffic_percent": "5"}
    response = client.post(f"/releases/{other.pk}/promotions/", form)
    assert response.status_code == 400
    assert "2.2.0 is mid-rollout in Production" in response.content.decode()
    assert not RolloutStep.objects.filter(release=other).exists()

    with mock.patch.object(rollouts, "send_step"):
        response = client.post(
            f"/releases/{other.pk}/promotions/", {**form, "promote_anyway": "on"}
        )
    assert response.status_code == 302
    assert RolloutStep.objects.filter(release=other).count() == 1


def _others(release, manager):  # type: ignore[no-untyped-def]
    """The approvers of `release` other than `manager`: the quorum for a new one."""
    return [a.approver for a in release.approvals.all() if a.approver_id != manager.pk]

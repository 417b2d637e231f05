"""Rollback plans: owners who hold the role, a target defaulting to the last known-good."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from releases import services
from releases.models import RollbackPlan

TRIGGER = {"metric": "p95_latency_ms", "comparison": "gt", "threshold": "300", "window_minutes": 5}


def plan(release, actor, environment, owners, **kwargs):  # type: ignore[no-untyped-def]
    arguments = {"mode": "manual", "cooldown_minutes": 30, "triggers": [TRIGGER], **kwargs}
    return services.save_rollback_plan(
        actor=actor, release=release, environment=environment, owners=owners, **arguments
    )


@pytest.mark.django_db
def test_owners_must_hold_the_rollback_owner_role(draft, model_owner, production, viewer):
    with pytest.raises(ValidationError) as caught:
        plan(draft, model_owner, production, [viewer])
    assert "owners" in caught.value.message_dict
    with pytest.raises(ValidationError):
        plan(draft, model_owner, production, [])
    assert not RollbackPlan.objects.exists()


@pytest.mark.django_db
def test_the_target_defaults_to_the_release_live_there(live_release, make_release, model_owner,
                                                       production, rollback_owner):  # fmt: skip
    candidate = make_release("3.0.0")
    saved = plan(candidate, model_owner, production, [rollback_owner])
    assert saved.target_release == live_release


@pytest.mark.django_db
def test_a_first_release_has_no_target(draft, model_owner, production, rollback_owner):
    assert plan(draft, model_owner, production, [rollback_owner]).target_release is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "trigger",
    [
        {**TRIGGER, "metric": ""},
        {**TRIGGER, "comparison": "attested"},
        {**TRIGGER, "threshold": "lots"},
        {**TRIGGER, "threshold": "NaN"},
        {**TRIGGER, "window_minutes": 0},
    ],
)
def test_malformed_triggers_are_refused(draft, model_owner, production, rollback_owner, trigger):
    with pytest.raises(ValidationError) as caught:
        plan(draft, model_owner, production, [rollback_owner], triggers=[trigger])
    assert "triggers" in caught.value.message_dict


@pytest.mark.django_db
def test_the_plan_is_frozen_with_the_release(submitted, model_owner, production, rollback_owner):
    with pytest.raises(ValidationError, match="frozen"):
        plan(submitted, model_owner, production, [rollback_owner], mode="automatic")


@pytest.mark.django_db
def test_saving_again_replaces_the_triggers(draft, model_owner, production, rollback_owner):
    plan(draft, model_owner, production, [rollback_owner])
    saved = plan(draft, model_owner, production, [rollback_owner],
                 triggers=[{**TRIGGER, "metric": "retry_rate"}])  # fmt: skip
    assert [t.metric for t in saved.triggers.all()] == ["retry_rate"]

"""Gate policies per risk tier and the checks recorded against them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from governance import services as governance
from releases import services
from releases.gate_policy import evaluate, policy_for
from releases.models import GateCriterion


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("risk", "criteria", "approvals"), [("high", 7, 2), ("limited", 5, 1), ("minimal", 3, 1)]
)
def test_default_policy_follows_the_risk_tier(registrar, risk, criteria, approvals):
    system = governance.create_system(
        actor=registrar, name=f"S {risk}", intended_purpose="x", risk_category=risk
    )
    policy = policy_for(system)
    assert (len(policy.required_criteria), policy.approvals_required) == (criteria, approvals)


@pytest.mark.django_db
def test_a_numeric_check_computes_pass_from_value_and_target(draft, model_owner):
    good = services.record_gate_check(
        actor=model_owner, release=draft, criterion="benchmark", comparison="gte",
        measured_value=Decimal("0.931"), target=Decimal("0.92"), evidence_uri="https://mlflow/run/1",
    )  # fmt: skip
    bad = services.record_gate_check(
        actor=model_owner, release=draft, criterion="latency", comparison="lte",
        measured_value=310, target=300, unit="ms", evidence_uri="https://grafana/d/1",
    )  # fmt: skip
    assert good.passed and not bad.passed


@pytest.mark.django_db
def test_the_latest_check_of_a_criterion_is_in_force(draft, model_owner, fraud):
    for value in (290, 350, 280):
        services.record_gate_check(
            actor=model_owner, release=draft, criterion="latency", comparison="lte",
            measured_value=value, target=300, evidence_uri="https://grafana/d/1",
        )  # fmt: skip
    state = next(s for s in evaluate(draft, policy_for(fraud)).states if s.criterion == "latency")
    assert state.passed and state.check.measured_value == 280


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"comparison": "gte", "target": 1}, "measured_value"),
        ({"comparison": "gte", "measured_value": 1}, "target"),
        ({"comparison": "attested"}, "attested_pass"),
        ({"comparison": "about", "measured_value": 1, "target": 1}, "comparison"),
        ({"comparison": "attested", "attested_pass": True, "evidence_uri": ""}, "evidence_uri"),
        ({"comparison": "attested", "attested_pass": True, "criterion": "vibes"}, "criterion"),
    ],
)
def test_an_incomplete_check_is_refused(draft, model_owner, kwargs, field):
    arguments = {"criterion": "benchmark", "evidence_uri": "https://e", **kwargs}
    with pytest.raises(ValidationError) as caught:
        services.record_gate_check(actor=model_owner, release=draft, **arguments)
    assert field in caught.value.message_dict
    assert not draft.gate_checks.exists()


@pytest.mark.django_db
def test_viewers_do_not_record_evidence(draft, viewer):
    with pytest.raises(PermissionDenied):
        services.record_gate_check(
            actor=viewer, release=draft, criterion="benchmark", comparison="attested",
            attested_pass=True, evidence_uri="https://e",
        )  # fmt: skip


@pytest.mark.django_db
def test_owners_edit_the_policy_but_not_below_the_high_risk_quorum(owner, fraud, model_owner):
    policy = services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=["benchmark", "latency"], approvals_required=3
    )
    assert policy.required_criteria == ["benchmark", "latency"]
    with pytest.raises(ValidationError) as caught:
        services.update_gate_policy(
            actor=owner, system=fraud, required_criteria=["benchmark"], approvals_required=1
        )
    assert "approvals_required" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        services.update_gate_policy(
            actor=model_owner, system=fraud, required_criteria=[], approvals_required=2
        )


@pytest.mark.django_db
def test_a_relaxed_policy_lets_fewer_checks_through(owner, fraud, draft, model_owner, production,
                                                    rollback_owner):  # fmt: skip
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[GateCriterion.BENCHMARK], approvals_required=2
    )
    services.record_gate_check(
        actor=model_owner, release=draft, criterion="benchmark", comparison="attested",
        attested_pass=True, evidence_uri="https://e",
    )  # fmt: skip
    services.save_rollback_plan(
        actor=model_owner, release=draft, environment=production, owners=[rollback_owner],
        mode="manual", cooldown_minutes=10, triggers=[],
    )  # fmt: skip
    assert services.submit_release(actor=model_owner, release=draft).status == "in_review"

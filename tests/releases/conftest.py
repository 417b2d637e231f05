"""Release fixtures: a complete draft, its evidence and plan, built through the services."""

from __future__ import annotations

import hashlib

import pytest

from releases import services
from releases.models import ComponentKind, GateCriterion

CARD = {
    "what_changed": "Gradient-boosted model retrained on Q3 data; new velocity features.",
    "why": "Fraud patterns shifted to card testing in small amounts.",
    "data_used": "Payments 2026-07..2026-09, 41M rows, labels from chargebacks.",
    "channels_tested": "Web checkout, mobile app.",
    "expected_benefits": "Recall +3 points at the same review rate.",
    "known_risks": "Higher false positives for first-time buyers.",
    "rollback_trigger": "Review rate above 2.5 % for 15 minutes.",
}


def stack(version: str) -> list[dict[str, str]]:
    return [
        {
            "kind": kind.value,
            "version": f"{kind.value}-{version}",
            "uri": f"s3://models/fraud/{kind.value}/{version}",
            "digest": hashlib.sha256(f"{kind.value}{version}".encode()).hexdigest(),
        }
        for kind in ComponentKind
    ]


@pytest.fixture
def production(fraud, owner):
    return services.create_environment(
        actor=owner, system=fraud, name="Production", is_production=True
    )


@pytest.fixture
def staging(fraud, owner):
    return services.create_environment(actor=owner, system=fraud, name="Staging")


@pytest.fixture
def make_release(fraud, model_owner):
    def make(version: str = "2.0.0", **overrides):  # type: ignore[no-untyped-def]
        return services.create_release(
            actor=overrides.pop("actor", model_owner),
            system=overrides.pop("system", fraud),
            version=version,
            title=overrides.pop("title", f"Fraud model {version}"),
            card=overrides.pop("card", CARD),
            components=overrides.pop("components", stack(version)),
            change_categories=overrides.pop("change_categories", ["major_dataset_refresh"]),
        )

    return make


@pytest.fixture
def draft(make_release):
    return make_release()


def pass_every_gate(release, actor) -> None:  # type: ignore[no-untyped-def]
    for criterion in GateCriterion:
        services.record_gate_check(
            actor=actor, release=release, criterion=criterion, comparison="attested",
            attested_pass=True, evidence_uri=f"https://wiki.example.com/{criterion}",
        )  # fmt: skip


@pytest.fixture
def ready(draft, model_owner, production, rollback_owner):
    """A draft with every gate passed and a rollback plan: ready to submit."""
    pass_every_gate(draft, model_owner)
    services.save_rollback_plan(
        actor=model_owner, release=draft, environment=production, owners=[rollback_owner],
        mode="auto_propose", cooldown_minutes=30,
        triggers=[{"metric": "review_rate", "comparison": "gt", "threshold": "2.5",
                   "window_minutes": 15}],
    )  # fmt: skip
    return draft


@pytest.fixture
def submitted(ready, model_owner):
    return services.submit_release(actor=model_owner, release=ready)


@pytest.fixture
def second_approver(fraud, registrar):
    from governance import services as governance
    from tests.factories import UserFactory

    user = UserFactory(username="rita")
    governance.grant_role(actor=registrar, system=fraud, role="release_manager", user=user)
    return user


@pytest.fixture
def approved(submitted, release_manager, second_approver):
    services.record_approval(
        actor=release_manager, release=submitted, decision="approve", comment="ok"
    )
    services.record_approval(
        actor=second_approver, release=submitted, decision="approve", comment="ok"
    )
    submitted.refresh_from_db()
    return submitted


def go_live(release, actor, environment):  # type: ignore[no-untyped-def]
    """Promote straight to general release and apply the step as the worker would."""
    step = services.promote_release(
        actor=actor, release=release, environment=environment, stage="general_release",
        traffic_percent=100,
    )  # fmt: skip
    return services.apply_rollout_step(step_id=step.pk)


@pytest.fixture
def live_release(approved, release_manager, production):
    go_live(approved, release_manager, production)
    approved.refresh_from_db()
    return approved

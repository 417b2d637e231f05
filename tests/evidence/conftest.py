"""A month of one system's life, built through the services: the auditor's questions and the
evidence pack are tested against it.

October 2026, system `fraud` (high risk: two approvals), environments Staging and Production:

    Oct 1  09:00  environments created
    Oct 1  10:00  1.0.0 registered; gates, plan (Production, manual, no fixed target), submitted
    Oct 1  11:00  1.0.0 approved by ravi, then rita
    Oct 2  10:00  1.0.0 live in Staging            Oct 3 10:00  1.0.0 live in Production
    Oct 10 10:00  1.1.0 registered (new model and threshold policy), plan: Production,
                  target 1.0.0, owner rob, auto-propose on review_rate > 2.5 for 15 min
    Oct 11 11:00  1.1.0 approved by ravi, then rita
    Oct 12 10:00  1.1.0 live in Staging
    Oct 13 15:00  drill in Staging by rob: 1.1.0 → 1.0.0, verified 15:02
    Oct 14 10:00  1.1.0 live in Production
    Oct 16 08:00  alert ReviewRateHigh (critical) in Production → incident 1 (SEV1) declared
                  by monitoring, 1.1.0 live
    Oct 16 08:20  rob presses ROLL BACK NOW from incident 1: Production 1.1.0 → 1.0.0,
                  verified 08:23 (1.1.0 rolled back)
    Oct 16 09:00  ReviewRateHigh resolved (joins incident 1)
    Oct 20 10:00  1.2.0 registered (threshold policy only), plan target 1.0.0; its
                  "rollback path ready" check is the Oct 13 drill's (fresh for 30 days)
    Oct 21 11:00  1.2.0 approved            Oct 21 14:00  1.2.0 live in Staging
    Oct 21 15:00  1.2.0 named incident 1's hotfix by its lead (the SEV1 freezes Production)
    Oct 22 10:00  1.2.0 live in Production
    Oct 25 12:00  incident 2 (SEV3, bias) declared by olga in Production, 1.2.0 live
    Oct 25 12:05  alert ScoreDrift (info: recorded, pages nobody) in Production
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from governance.evidence.pack.period import PackPeriod
from incidents import services as incident_services
from incidents.models import Alert, Incident
from releases import rollbacks, services
from releases.models import ComponentKind, Environment, GateCriterion, Release, RollbackRequest
from tests.fixtures.releases import CARD, go_live, rollbacks_held


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


PERIOD = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
OCTOBER = PackPeriod(date(2026, 10, 1), date(2026, 10, 31))  # the same month, for a pack

# The version of each component in each release (1.3.0 is for tests that add history).
COMPONENT_VERSION = {
    "1.0.0": dict.fromkeys(ComponentKind.values, "1.0.0"),
    "1.1.0": {**dict.fromkeys(ComponentKind.values, "1.0.0"),
              "model": "1.1.0", "threshold_policy": "1.1.0", "evaluation": "1.1.0"},
    "1.2.0": {**dict.fromkeys(ComponentKind.values, "1.0.0"),
              "model": "1.1.0", "threshold_policy": "1.2.0", "evaluation": "1.2.0"},
    "1.3.0": {**dict.fromkeys(ComponentKind.values, "1.0.0"),
              "model": "1.1.0", "threshold_policy": "1.2.0", "dataset": "1.3.0",
              "evaluation": "1.3.0"},
}  # fmt: skip


def component(kind: str, version: str) -> dict[str, str]:
    return {
        "kind": kind,
        "version": f"{kind}-{version}",
        "uri": f"s3://models/fraud/{kind}/{version}",
        "digest": hashlib.sha256(f"{kind}{version}".encode()).hexdigest(),
    }


def stack_of(release_version: str) -> list[dict[str, str]]:
    return [component(kind, v) for kind, v in COMPONENT_VERSION[release_version].items()]


APPROVAL_COMMENTS = {
    "1.0.0": ("Benchmarks hold on every channel.", "Rollback path checked."),
    "1.1.0": ("Threshold change reviewed against Q3 data.", "Recall gain confirmed."),
    "1.2.0": ("Threshold restored for first-time buyers.", "Bias review attached."),
    "1.3.0": ("Dataset refresh reviewed.", "No regression in protected segments."),
}


@dataclass
class History:
    """What `evidence_history` built, for the assertions."""

    system: Any
    staging: Environment
    production: Environment
    releases: dict[str, Release]
    incidents: list[Incident]
    rollback: RollbackRequest
    drill: RollbackRequest
    alerts: list[Alert]
    period: tuple[datetime, datetime] = PERIOD
    people: dict[str, Any] = field(default_factory=dict)


def pass_gates(release: Release, actor: Any) -> None:
    """Every criterion attested, except a rollback path a fresh drill has already proved
    (the drill's own check stands for it)."""
    for criterion in GateCriterion:
        if release.gate_checks.filter(criterion=criterion).exists():
            continue
        services.record_gate_check(
            actor=actor, release=release, criterion=criterion, comparison="attested",
            attested_pass=True, evidence_uri=f"https://wiki.example.com/{criterion}",
        )  # fmt: skip


def _release(version: str, when: datetime, approved: datetime, *, people: dict[str, Any],
             environment: Environment, mode: str, triggers: list[dict[str, Any]],
             card: dict[str, str]) -> Release:  # fmt: skip
    with time_machine.travel(when, tick=False):
        release = services.create_release(
            actor=people["model_owner"], system=environment.system, version=version,
            title=f"Fraud model {version}", card=card, components=stack_of(version),
            change_categories=["threshold_policy_update"],
        )  # fmt: skip
        pass_gates(release, people["model_owner"])
        services.save_rollback_plan(
            actor=people["model_owner"], release=release, environment=environment,
            owners=[people["rollback_owner"]], mode=mode, cooldown_minutes=30, triggers=triggers,
        )  # fmt: skip
        services.submit_release(actor=people["model_owner"], release=release)
    first, second = APPROVAL_COMMENTS[version]
    with time_machine.travel(approved, tick=False):
        services.record_approval(
            actor=people["release_manager"], release=release, decision="approve", comment=first
        )
        services.record_approval(
            actor=people["second_approver"], release=release, decision="approve", comment=second
        )
    release.refresh_from_db()
    return release


def _live(release: Release, actor: Any, environment: Environment, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        go_live(release, actor, environment)


@pytest.fixture
def evidence_history(  # type: ignore[no-untyped-def]
    fraud, owner, model_owner, release_manager, second_approver, rollback_owner, oncall_lead,
    compliance, viewer,
) -> History:  # fmt: skip
    people = {
        "owner": owner,
        "model_owner": model_owner,
        "release_manager": release_manager,
        "second_approver": second_approver,
        "rollback_owner": rollback_owner,
        "oncall_lead": oncall_lead,
        "compliance": compliance,
        "viewer": viewer,
    }
    with time_machine.travel(at(1, 9), tick=False):
        staging = services.create_environment(actor=owner, system=fraud, name="Staging")
        production = services.create_environment(
            actor=owner, system=fraud, name="Production", is_production=True
        )

    r1 = _release("1.0.0", at(1, 10), at(1, 11), people=people, environment=production,
                  mode="manual", triggers=[], card=CARD)  # fmt: skip
    _live(r1, release_manager, staging, at(2, 10))
    _live(r1, release_manager, production, at(3, 10))

    review_rate = [{"metric": "review_rate", "comparison": "gt", "threshold": "2.5",
                    "window_minutes": 15}]  # fmt: skip
    card_11 = {**CARD, "what_changed": "New velocity model; review threshold lowered to 0.62.",
               "known_risks": "More reviews for first-time buyers."}  # fmt: skip
    r2 = _release("1.1.0", at(10, 10), at(11, 11), people=people, environment=production,
                  mode="auto_propose", triggers=review_rate, card=card_11)  # fmt: skip
    _live(r2, release_manager, staging, at(12, 10))

    with time_machine.travel(at(13, 15), tick=False), rollbacks_held():  # run below, at set times
        drill, _ = rollbacks.request_rollback(
            actor=rollback_owner, environment=staging, reason="Quarterly rollback drill",
            drill=True,
        )  # fmt: skip
    with time_machine.travel(at(13, 15, 2), tick=False):
        drill = rollbacks.run_rollback(request_id=drill.pk)

    _live(r2, release_manager, production, at(14, 10))

    with time_machine.travel(at(16, 8), tick=False):
        firing = incident_services.parse_generic(
            {"name": "ReviewRateHigh", "severity": "critical", "environment": "production",
             "labels": {"metric": "review_rate"}, "annotations": {"summary": "Review rate 3.1 %"},
             "starts_at": "2026-10-16T07:55:00Z"}
        )[0]  # fmt: skip
        alert_1 = incident_services.ingest_alert(system=fraud, alert=firing)
    incident_1 = Incident.objects.get(pk=alert_1.incident_id)
    with time_machine.travel(at(16, 8, 20), tick=False), rollbacks_held():
        rollback, _ = incident_services.roll_back_incident(
            actor=rollback_owner, incident=incident_1, reason="Review rate tripled after 1.1.0"
        )
    with time_machine.travel(at(16, 8, 23), tick=False):
        rollback = rollbacks.run_rollback(request_id=rollback.pk)
    with time_machine.travel(at(16, 9), tick=False):
        resolved = incident_services.parse_generic(
            {"name": "ReviewRateHigh", "status": "resolved", "severity": "critical",
             "environment": "production", "labels": {"metric": "review_rate"},
             "starts_at": "2026-10-16T07:55:00Z", "ends_at": "2026-10-16T08:58:00Z"}
        )[0]  # fmt: skip
        alert_2 = incident_services.ingest_alert(system=fraud, alert=resolved)

    card_12 = {**CARD, "what_changed": "Review threshold back to 0.70 for first-time buyers."}
    r3 = _release("1.2.0", at(20, 10), at(21, 11), people=people, environment=production,
                  mode="manual", triggers=[], card=card_12)  # fmt: skip
    _live(r3, release_manager, staging, at(21, 14))
    with time_machine.travel(at(21, 15), tick=False):  # incident 1 still freezes Production
        incident_services.cite_hotfix(actor=oncall_lead, incident=incident_1, release=r3)
    _live(r3, release_manager, production, at(22, 10))

    with time_machine.travel(at(25, 12), tick=False):
        incident_2 = incident_services.declare_incident(
            actor=oncall_lead, system=fraud, environment=production,
            title="Approval gap for new customers", severity="sev3", category="bias",
        )  # fmt: skip
    with time_machine.travel(at(25, 12, 5), tick=False):
        info = incident_services.parse_generic(
            {"name": "ScoreDrift", "severity": "info", "environment": "production",
             "starts_at": "2026-10-25T12:00:00Z"}
        )[0]  # fmt: skip
        alert_3 = incident_services.ingest_alert(system=fraud, alert=info)

    for release in (r1, r2, r3):
        release.refresh_from_db()
    return History(
        system=fraud,
        staging=staging,
        production=production,
        releases={"1.0.0": r1, "1.1.0": r2, "1.2.0": r3},
        incidents=[incident_1, incident_2],
        rollback=rollback,
        drill=drill,
        alerts=[alert_1, alert_2, alert_3],
        people=people,
    )

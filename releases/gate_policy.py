"""Gate policies by risk tier, and the evaluation of a release against its gate."""

from __future__ import annotations

from dataclasses import dataclass

from governance.models import AISystem, RiskCategory
from releases.models import GateCheck, GateCriterion, GatePolicy, Release

C = GateCriterion
DEFAULT_POLICIES: dict[str, tuple[list[str], int]] = {
    RiskCategory.PROHIBITED: (list(C.values), 2),
    RiskCategory.HIGH: (list(C.values), 2),
    RiskCategory.LIMITED: (
        [C.BENCHMARK, C.PROTECTED_SEGMENTS, C.LATENCY, C.ROLLBACK_READY, C.OWNERS_RECORDED],
        1,
    ),
    RiskCategory.MINIMAL: ([C.BENCHMARK, C.ROLLBACK_READY, C.OWNERS_RECORDED], 1),
}
# High-risk systems need a quorum: a policy may ask for more approvals, never fewer.
MINIMUM_APPROVALS: dict[str, int] = {RiskCategory.PROHIBITED: 2, RiskCategory.HIGH: 2}


def policy_for(system: AISystem) -> GatePolicy:
    """The system's policy: the one saved, else its risk tier's defaults. Reading a policy
    never writes one (pages, the API and evidence packs read it); the first change saves it
    (services.update_gate_policy)."""
    saved = GatePolicy.objects.filter(system=system).first()
    return saved if saved is not None else default_policy(system)


def default_policy(system: AISystem) -> GatePolicy:
    """The risk tier's defaults, unsaved, in force since the system was registered."""
    criteria, approvals = DEFAULT_POLICIES[system.risk_category]
    return GatePolicy(
        system=system,
        required_criteria=[str(c) for c in criteria],
        approvals_required=approvals,
        updated_at=system.created_at,
    )


@dataclass(frozen=True)
class CriterionState:
    criterion: GateCriterion
    required: bool
    check: GateCheck | None

    @property
    def passed(self) -> bool:
        return self.check is not None and self.check.passed and not self.expired

    @property
    def expired(self) -> bool:
        """Evidence that held once and has gone stale (a rollback drill too long ago)."""
        return self.check is not None and self.check.expired()


@dataclass(frozen=True)
class GateEvaluation:
    states: list[CriterionState]

    @property
    def missing(self) -> list[CriterionState]:
        return [s for s in self.states if s.required and not s.passed]

    @property
    def passed(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class GateSummary:
    """A release's gate in one line of a list: how many required criteria pass, of how many."""

    passing: int
    required: int
    approvals_required: int

    @property
    def passed(self) -> bool:
        return self.passing == self.required


def summarise(release: Release, policy: GatePolicy) -> GateSummary:
    """From the release's prefetched gate checks: no query."""
    evaluation = evaluate(release, policy, list(release.gate_checks.all()))
    required = [s for s in evaluation.states if s.required]
    return GateSummary(
        passing=sum(s.passed for s in required),
        required=len(required),
        approvals_required=policy.approvals_required,
    )


def latest_checks(checks: list[GateCheck]) -> dict[str, GateCheck]:
    """The check in force for each criterion: the most recent one."""
    latest: dict[str, GateCheck] = {}
    for check in sorted(checks, key=lambda c: (c.recorded_at, c.pk)):
        latest[check.criterion] = check
    return latest


def evaluate(
    release: Release, policy: GatePolicy, checks: list[GateCheck] | None = None
) -> GateEvaluation:
    if checks is None:
        checks = list(release.gate_checks.all())
    latest = latest_checks(checks)
    required = set(policy.required_criteria)
    return GateEvaluation(
        [CriterionState(criterion, criterion.value in required, latest.get(criterion.value))
         for criterion in GateCriterion]
    )  # fmt: skip

"""Recording gate evidence, and editing a system's gate policy."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from governance import audit
from governance.permissions import can, require
from governance.roles import Action
from governance.validators import check_value
from releases.gate_policy import MINIMUM_APPROVALS, default_policy
from releases.models import (
    SOAK_MAX_MINUTES,
    Comparison,
    GateCheck,
    GateCriterion,
    GatePolicy,
    Release,
    ReleaseStatus,
    RolloutStage,
)
from releases.services.drills import drill_possible

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

_COMPARE = {
    Comparison.GTE: operator.ge,
    Comparison.LTE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.LT: operator.lt,
}


@transaction.atomic
def record_gate_check(
    *,
    actor: User | None,
    release: Release,
    criterion: str,
    comparison: str,
    evidence_uri: str,
    measured_value: Decimal | None = None,
    target: Decimal | None = None,
    unit: str = "",
    attested_pass: bool | None = None,
    note: str = "",
) -> GateCheck:
    """Record one measurement against a criterion; the pass/fail is computed, never typed in.

    Numeric criteria compare the measured value with the target; qualitative ones
    ("attested") take the recorder's word, which the audit trail keeps with their name.

    No actor: the registry intake, recording the training run's metrics on the draft it
    registered itself (and on no other release), before anyone has taken the draft over.
    """
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    system = release.system
    if actor is None:
        if release.author_id is not None or not hasattr(release, "registry_version"):
            raise PermissionDenied(
                "Automation records gate evidence only on the draft the registry intake registered."
            )
    elif not (
        can(actor, Action.REGISTER_RELEASE, system) or can(actor, Action.APPROVE_RELEASE, system)
    ):
        raise PermissionDenied("Only model owners and release managers record gate evidence.")
    if release.status not in (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW):
        raise ValidationError("Gate evidence is recorded before a decision, not after it.")
    if criterion not in GateCriterion.values:
        raise ValidationError({"criterion": f"Unknown criterion {criterion!r}."})
    if not evidence_uri.strip():
        raise ValidationError({"evidence_uri": "Link the evidence (report, dashboard, notebook)."})
    check_value(GateCheck, "evidence_uri", evidence_uri.strip())
    check_value(GateCheck, "note", note.strip())
    if criterion == GateCriterion.ROLLBACK_READY and drill_possible(system):
        raise ValidationError(
            {
                "criterion": "A rollback drill shows the rollback path is ready: run one on a "
                f"non-production environment (a passed drill counts for "
                f"{settings.ROLLBACK_DRILL_DAYS} days)."
            }
        )

    if comparison == Comparison.ATTESTED:
        if attested_pass is None:
            raise ValidationError({"attested_pass": "Say whether the criterion is met."})
        passed = attested_pass
    elif comparison in _COMPARE:
        if measured_value is None or target is None:
            errors = {}
            if measured_value is None:
                errors["measured_value"] = "Give the measured value."
            if target is None:
                errors["target"] = "Give the target."
            raise ValidationError(errors)
        passed = _COMPARE[Comparison(comparison)](measured_value, target)
    else:
        raise ValidationError({"comparison": f"Unknown comparison {comparison!r}."})

    check = GateCheck.objects.create(
        release=release, criterion=criterion, comparison=comparison, measured_value=measured_value,
        target=target, unit=unit.strip(), passed=passed, evidence_uri=evidence_uri.strip(),
        note=note.strip(), recorded_by=actor,
    )  # fmt: skip
    audit.record_event(
        actor=actor, action="gate.recorded", obj=check, system=system,
        after=audit.snapshot(check, ["release", "criterion", "comparison", "measured_value",
                                     "target", "unit", "passed", "evidence_uri", "note"]),
    )  # fmt: skip
    return check


@transaction.atomic
def update_gate_policy(
    *,
    actor: User,
    system: AISystem,
    required_criteria: Iterable[str],
    approvals_required: int,
    required_stages: Iterable[str] | None = None,
    soak_minutes: Mapping[str, Any] | None = None,
) -> GatePolicy:
    """Change which criteria a system's releases must pass, how many approvals they need,
    (given) which rollout stages they must pass before a later one and (given) how many
    minutes each stage must soak before the rollout moves past it (None: kept as it is)."""
    require(actor, Action.CHANGE, system)
    criteria = sorted(set(required_criteria))
    errors: dict[str, str] = {}
    unknown = [c for c in criteria if c not in GateCriterion.values]
    if unknown:
        errors["required_criteria"] = f"Unknown criteria: {', '.join(unknown)}."
    stages = None
    if required_stages is not None:
        wanted = set(required_stages)
        if wanted - set(RolloutStage.values):
            errors["required_stages"] = (
                f"Unknown stages: {', '.join(sorted(wanted - set(RolloutStage.values)))}."
            )
        elif RolloutStage.GENERAL_RELEASE in wanted:
            errors["required_stages"] = "General release is the last stage: nothing comes after it."
        stages = [s for s in RolloutStage.values if s in wanted]  # in rollout order
    soak = None
    if soak_minutes is not None:
        soak, soak_error = clean_soak_minutes(soak_minutes)
        if soak_error:
            errors["soak_minutes"] = soak_error
    floor = MINIMUM_APPROVALS.get(system.risk_category, 1)
    if approvals_required < floor:
        errors["approvals_required"] = (
            f"A {system.get_risk_category_display().lower()} system needs at least {floor} "
            f"approval{'s' if floor > 1 else ''}."
        )
    if approvals_required > 10:
        errors["approvals_required"] = "Ten approvals at most."
    if errors:
        raise ValidationError(errors)

    default = default_policy(system)  # saved now if it never was: the first change saves it
    GatePolicy.objects.get_or_create(
        system=system,
        defaults={
            "required_criteria": default.required_criteria,
            "approvals_required": default.approvals_required,
        },
    )
    policy = (
        GatePolicy.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")  # the audit trail names the policy by its system
        .get(system=system)
    )
    fields = ["required_criteria", "approvals_required", "required_stages", "soak_minutes"]
    before = audit.snapshot(policy, fields)
    policy.required_criteria, policy.approvals_required = criteria, approvals_required
    if stages is not None:
        policy.required_stages = stages
    if soak is not None:
        policy.soak_minutes = soak
    policy.save()
    after = audit.snapshot(policy, fields)
    if after != before:
        audit.record_event(
            actor=actor, action="gate_policy.updated", obj=policy, system=system,
            before=before, after=after,
        )  # fmt: skip
    return policy


def clean_soak_minutes(value: Any) -> tuple[dict[str, int], str]:
    """A policy's minimum soaks as stored ({stage: minutes}, zeros left out, in stage
    order), or the reason they are refused."""
    if not isinstance(value, Mapping):
        return {}, 'A mapping of stage to minutes, e.g. {"segment_monitoring": 60}.'
    soakable = RolloutStage.values[:-1]  # general release has nothing after it to wait for
    unknown = sorted(str(k) for k in value if k not in soakable)
    if unknown:
        return {}, f"Not a stage that soaks: {', '.join(unknown)}."
    cleaned: dict[str, int] = {}
    for stage in soakable:
        minutes = value.get(stage)
        if minutes is None:
            continue
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            return {}, f"{RolloutStage(stage).label}: whole minutes."
        if not 0 <= minutes <= SOAK_MAX_MINUTES:
            return {}, (
                f"{RolloutStage(stage).label}: between 0 and {SOAK_MAX_MINUTES} minutes (a week)."
            )
        if minutes:
            cleaned[stage] = minutes
    return cleaned, ""


class GateEvidenceErrors(ValidationError):
    """Some checks of a batch were refused: `by_row` maps each refused row (its index in the
    batch) to why. None of the batch was recorded."""

    def __init__(self, by_row: dict[int, ValidationError]) -> None:
        self.by_row = by_row
        super().__init__([message for error in by_row.values() for message in error.messages])


@transaction.atomic
def record_gate_evidence(
    *, actor: User, release: Release, checks: Iterable[dict]
) -> list[GateCheck]:
    """Record several gate checks at once (the gate form's rows): each as `record_gate_check`
    records one, with its own audit event, and all or none (GateEvidenceErrors)."""
    checks = list(checks)
    if not checks:
        raise ValidationError("Fill in at least one criterion: its result and its evidence link.")
    recorded, refused = [], {}
    for number, check in enumerate(checks):
        try:
            # A savepoint per row: one refused row leaves the others' errors to be found.
            with transaction.atomic():
                recorded.append(record_gate_check(actor=actor, release=release, **check))
        except ValidationError as error:
            refused[number] = error
    if refused:
        raise GateEvidenceErrors(refused)
    return recorded

"""The releases API's serializers, by resource: releases (the stack, card, gate checks,
approvals, the gate policy), rollbacks (plans with their triggers, rollback requests and what
a press sends), rollouts (steps and their analyses), environments."""

from releases.api.serializers.environments import (
    AdoptDriftSerializer,
    EnvironmentSerializer,
    LiveAtSerializer,
    SystemSlugField,
)
from releases.api.serializers.releases import (
    ApprovalSerializer,
    ComponentSerializer,
    GateCheckSerializer,
    GatePolicySerializer,
    HeldReleaseSerializer,
    ModelCardSerializer,
    RegisteredFromSerializer,
    ReleaseDetailSerializer,
    ReleaseSerializer,
    ReleaseWriteSerializer,
    StackConflictSerializer,
)
from releases.api.serializers.rollbacks import (
    IncidentRollbackAskSerializer,
    RollbackAskSerializer,
    RollbackDismissSerializer,
    RollbackPlanSerializer,
    RollbackRequestSerializer,
    TriggerSerializer,
)
from releases.api.serializers.rollouts import (
    RolloutControlSerializer,
    RolloutStepSerializer,
    StageAnalysisSerializer,
)

__all__ = [
    "AdoptDriftSerializer",
    "ApprovalSerializer",
    "ComponentSerializer",
    "EnvironmentSerializer",
    "GateCheckSerializer",
    "GatePolicySerializer",
    "HeldReleaseSerializer",
    "IncidentRollbackAskSerializer",
    "LiveAtSerializer",
    "ModelCardSerializer",
    "RegisteredFromSerializer",
    "ReleaseDetailSerializer",
    "ReleaseSerializer",
    "ReleaseWriteSerializer",
    "RollbackAskSerializer",
    "RollbackDismissSerializer",
    "RollbackPlanSerializer",
    "RollbackRequestSerializer",
    "RolloutControlSerializer",
    "RolloutStepSerializer",
    "StackConflictSerializer",
    "StageAnalysisSerializer",
    "SystemSlugField",
    "TriggerSerializer",
]

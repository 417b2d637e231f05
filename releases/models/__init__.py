"""Releases of the whole decision stack (release), their gate checks and approvals (review),
environments with their rollouts and deployments (deployment), and rollback plans and requests
(rollback). Imported from here: `from releases.models import Release`."""

from releases.models.analysis import (
    AnalysisStatus,
    Measurement,
    MeasurementPhase,
    StageAnalysis,
)
from releases.models.deployment import (
    BackendType,
    Deployment,
    Environment,
    LocalDeploymentState,
    RolloutStage,
    RolloutStep,
    StepAction,
    StepStatus,
)
from releases.models.drift import Drift, DriftResolution
from releases.models.intake import (
    DeliveryStatus,
    ImportStatus,
    ModelFollow,
    RegistryVersion,
    WebhookDelivery,
    WebhookSecret,
)
from releases.models.release import (
    MODEL_CARD_FIELDS,
    ChangeCategory,
    ComponentKind,
    Release,
    ReleaseComponent,
    ReleaseStatus,
)
from releases.models.review import (
    SOAK_MAX_MINUTES,
    Approval,
    Comparison,
    Decision,
    GateCheck,
    GateCriterion,
    GatePolicy,
)
from releases.models.rollback import (
    ForensicRecord,
    RollbackMode,
    RollbackPlan,
    RollbackRequest,
    RollbackStatus,
    RollbackTrigger,
    TriggerOutcome,
)

__all__ = [
    "MODEL_CARD_FIELDS",
    "SOAK_MAX_MINUTES",
    "AnalysisStatus",
    "Approval",
    "BackendType",
    "ChangeCategory",
    "Comparison",
    "ComponentKind",
    "Decision",
    "DeliveryStatus",
    "Deployment",
    "Drift",
    "DriftResolution",
    "Environment",
    "ForensicRecord",
    "GateCheck",
    "GateCriterion",
    "GatePolicy",
    "ImportStatus",
    "LocalDeploymentState",
    "Measurement",
    "MeasurementPhase",
    "ModelFollow",
    "RegistryVersion",
    "Release",
    "ReleaseComponent",
    "ReleaseStatus",
    "RollbackMode",
    "RollbackPlan",
    "RollbackRequest",
    "RollbackStatus",
    "RollbackTrigger",
    "RolloutStage",
    "RolloutStep",
    "StageAnalysis",
    "StepAction",
    "StepStatus",
    "TriggerOutcome",
    "WebhookDelivery",
    "WebhookSecret",
]

"""Every state change of releases. Views, the API and tasks call these, never the models."""

from releases.services.approvals import record_approval
from releases.services.environments import create_environment, update_environment
from releases.services.gates import (
    GateEvidenceErrors,
    record_gate_check,
    record_gate_evidence,
    update_gate_policy,
)
from releases.services.intake import (
    create_webhook_secret,
    follow_model,
    receive_delivery,
    revoke_webhook_secret,
    unfollow_model,
    update_follow,
)
from releases.services.plans import save_rollback_plan
from releases.services.registration import (
    StackConflict,
    create_release,
    register_release,
    submit_release,
    update_release,
)
from releases.services.rollout_controls import abort_rollout, pause_rollout, resume_rollout
from releases.services.rollouts import (
    apply_rollout_step,
    fail_rollout_step,
    promote_release,
    sweep_rollout_steps,
)

__all__ = [
    "GateEvidenceErrors",
    "StackConflict",
    "abort_rollout",
    "apply_rollout_step",
    "create_environment",
    "create_release",
    "create_webhook_secret",
    "fail_rollout_step",
    "follow_model",
    "pause_rollout",
    "promote_release",
    "receive_delivery",
    "record_approval",
    "record_gate_check",
    "record_gate_evidence",
    "register_release",
    "resume_rollout",
    "revoke_webhook_secret",
    "save_rollback_plan",
    "submit_release",
    "sweep_rollout_steps",
    "unfollow_model",
    "update_environment",
    "update_follow",
    "update_gate_policy",
    "update_release",
]

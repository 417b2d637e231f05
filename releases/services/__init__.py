"""Every state change of releases. Views, the API and tasks call these, never the models."""

from releases.services.approvals import record_approval
from releases.services.environments import create_environment, update_environment
from releases.services.gates import record_gate_check, update_gate_policy
from releases.services.plans import save_rollback_plan
from releases.services.registration import create_release, submit_release, update_release
from releases.services.rollouts import apply_rollout_step, fail_rollout_step, promote_release

__all__ = [
    "apply_rollout_step",
    "create_environment",
    "create_release",
    "fail_rollout_step",
    "promote_release",
    "record_approval",
    "record_gate_check",
    "save_rollback_plan",
    "submit_release",
    "update_environment",
    "update_gate_policy",
    "update_release",
]

"""Reading a Rollout and its ReplicaSets as the API server gives them: which release a pod
template is, which idempotency keys were applied, which ReplicaSet is stable, whether the
controller has observed the spec, and what all that says is live (`status_of`). Functions
of the JSON: the only request is the one `status_of` is given."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from releases.backends.base import BackendError, BackendStatus
from releases.models import RolloutStage

RELEASE_ANNOTATION = "failsafe.io/release"  # on the pod template: which release it is
KEYS_ANNOTATION = "failsafe.io/idempotency-keys"  # on the Rollout: the keys applied
REASON_ANNOTATION = "failsafe.io/rollback-reason"
REQUESTED_BY_ANNOTATION = "failsafe.io/rollback-requested-by"
INCIDENT_ANNOTATION = "failsafe.io/rollback-incident"
REVISION_ANNOTATION = "rollout.argoproj.io/revision"
HASH_LABEL = "rollouts-pod-template-hash"


def template(rollout: dict[str, Any], name: str) -> dict[str, Any]:
    """The Rollout's pod template; a permanent error when it has none."""
    found = (rollout.get("spec") or {}).get("template")
    if not isinstance(found, dict):
        raise BackendError(
            f"Rollout {name} has no spec.template (it may reference a Deployment with "
            "spec.workloadRef, which this backend does not support)."
        )
    return found


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def release_of(replica_set: dict[str, Any]) -> str | None:
    """The release a ReplicaSet's pod template carries, if Failsafe deployed it."""
    return annotations_of((replica_set.get("spec") or {}).get("template") or {}).get(
        RELEASE_ANNOTATION
    )


def applied_keys(rollout: dict[str, Any]) -> list[str]:
    try:
        keys = json.loads(annotations_of(rollout).get(KEYS_ANNOTATION) or "[]")
    except ValueError:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def stable_hash(status: dict[str, Any]) -> str:
    # Rollouts before v1.0 kept it under status.canary.stableRS only.
    return str(status.get("stableRS") or (status.get("canary") or {}).get("stableRS") or "")


def observed(rollout: dict[str, Any]) -> bool:
    """Has the controller seen the latest spec? (The kubectl plugin's isGenerationObserved.)"""
    seen = (rollout.get("status") or {}).get("observedGeneration")
    generation = (rollout.get("metadata") or {}).get("generation")
    if not isinstance(seen, str | int) or not isinstance(generation, int):
        return True
    try:
        seen_number = int(seen)  # a string in Rollouts v1, an old hash before
    except ValueError:
        return True
    return seen_number >= generation


def canary_weight(status: dict[str, Any]) -> Any:
    """The canary's share of traffic as the Rollout reports it (None when it does not)."""
    return (((status.get("canary") or {}).get("weights") or {}).get("canary") or {}).get("weight")


def status_of(
    rollout: dict[str, Any],
    *,
    detail: dict[str, Any],
    release_of_hash: Callable[[dict[str, Any], str], str | None],
) -> BackendStatus:
    """What the Rollout says is live: the stable ReplicaSet's release (`release_of_hash`
    finds it, a request, when the template is not it), and during an update the template's
    release with its canary weight. The phase as the kubectl plugin reports it."""
    status = rollout.get("status") or {}
    pod_template = (rollout.get("spec") or {}).get("template") or {}
    containers = (pod_template.get("spec") or {}).get("containers") or []
    seen = observed(rollout)
    if seen:
        phase, message = status.get("phase") or "Unknown", status.get("message") or ""
    else:
        phase, message = "Progressing", "waiting for rollout spec update to be observed"
    template_release = annotations_of(pod_template).get(RELEASE_ANNOTATION)
    stable = stable_hash(status)
    fully_promoted = seen and bool(stable) and status.get("currentPodHash") == stable
    if fully_promoted:
        live = template_release
    elif stable:
        live = release_of_hash(rollout, stable)
    else:
        live = None
    candidate = None if fully_promoted or template_release == live else template_release
    weight = canary_weight(status)
    return BackendStatus(
        live_version=live,
        candidate_version=candidate,
        stage=RolloutStage.GENERAL_RELEASE if fully_promoted else None,
        traffic_percent=100.0 if fully_promoted
        else float(weight) if candidate and isinstance(weight, int | float) else None,
        detail={
            **detail,
            "phase": phase,
            "message": message,
            "observed": seen,
            "aborted": bool(status.get("abort")),
            "stable_rs": stable or None,
            "current_pod_hash": status.get("currentPodHash"),
            "revision": annotations_of(rollout).get(REVISION_ANNOTATION),
            "images": [container.get("image") for container in containers],
            "template_release": template_release,
        },
    )  # fmt: skip


def revision(replica_set: dict[str, Any]) -> int:
    try:
        return int(annotations_of(replica_set).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def controlled_by(
    replica_sets: list[dict[str, Any]], rollout: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ReplicaSets whose controller is the Rollout (as kubectl's undo picks them)."""
    uid = (rollout.get("metadata") or {}).get("uid")
    return [
        rs for rs in replica_sets
        if any(ref.get("controller") and ref.get("uid") == uid
               for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]  # fmt: skip


def selector(label_selector: dict[str, Any]) -> str:
    """A LabelSelector as the `labelSelector` query parameter spells it."""
    parts = [f"{k}={v}" for k, v in sorted((label_selector.get("matchLabels") or {}).items())]
    for expression in label_selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)

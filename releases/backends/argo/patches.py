"""Changing a Rollout: the patches Failsafe sends, built from the Rollout as it was read.

The pod template is set with a JSON patch (a deploy sets the container's image and the
release annotation; an undo replaces the whole template), always with the idempotency key
added to the Rollout's own annotations in the same patch, so the change and its key land
together. Abort and full promotion are merge patches of the status subresource.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from releases.backends.argo.rollout import (
    HASH_LABEL,
    INCIDENT_ANNOTATION,
    KEYS_ANNOTATION,
    REASON_ANNOTATION,
    RELEASE_ANNOTATION,
    REQUESTED_BY_ANNOTATION,
    annotations_of,
    applied_keys,
)

if TYPE_CHECKING:
    from releases.backends.base import RollbackContext

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
ABORT_PATCH = {"status": {"abort": True}}
# `kubectl argo rollouts pause` / resume: the Rollout's spec.paused, a merge patch.
PAUSE_PATCH = {"spec": {"paused": True}}
RESUME_PATCH = {"spec": {"paused": False}}
PROMOTE_FULL_PATCH = {"status": {"promoteFull": True}}
KEYS_KEPT = 20
MAX_ANNOTATION_CHARS = 2000  # a reason is prose; the Rollout's annotations share 256 KiB


def deploy_ops(
    rollout: dict[str, Any],
    template: dict[str, Any],
    index: int,
    container: dict[str, Any],
    *,
    image: str,
    release: str,
    key: str,
) -> list[dict[str, Any]]:
    """Set container `index`'s image and the template's release annotation (the test op
    makes sure the container is still the one read), and record the key."""
    containers = f"/spec/template/spec/containers/{index}"
    return [
        {"op": "test", "path": f"{containers}/name", "value": container["name"]},
        {"op": "replace", "path": f"{containers}/image", "value": image},
        annotation_op("/spec/template/metadata", template.get("metadata"), RELEASE_ANNOTATION,
                      release),
        key_op(rollout, key),
    ]  # fmt: skip


def undo_ops(
    rollout: dict[str, Any], replica_set: dict[str, Any], key: str, context: RollbackContext
) -> list[dict[str, Any]]:
    """Put the ReplicaSet's template back (without its pod-template-hash label), and record
    the key and why on the Rollout's own annotations."""
    restored = copy.deepcopy(replica_set["spec"]["template"])
    (restored.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return [
        {"op": "replace", "path": "/spec/template", "value": restored},
        *rollback_annotation_ops(rollout, key, context),
    ]


def key_op(rollout: dict[str, Any], key: str) -> dict[str, Any]:
    """Add `key` to the applied keys, keeping the last KEYS_KEPT."""
    earlier = [k for k in applied_keys(rollout) if k != key]
    keys = [*earlier[len(earlier) - KEYS_KEPT + 1 :], key]
    return annotation_op("/metadata", rollout.get("metadata"), KEYS_ANNOTATION, json.dumps(keys))


def rollback_annotation_ops(
    rollout: dict[str, Any], key: str, context: RollbackContext
) -> list[dict[str, Any]]:
    """The applied key and why the rollback happened, on the Rollout's own annotations."""
    incident = None
    if context.incident:
        incident = " ".join(filter(None, (context.incident, context.incident_title)))
    values: dict[str, str | None] = {
        REASON_ANNOTATION: context.reason,
        REQUESTED_BY_ANNOTATION: context.asked_by,
        INCIDENT_ANNOTATION: incident,
    }
    clipped = {k: v[:MAX_ANNOTATION_CHARS] if v else None for k, v in values.items()}
    return [key_op(rollout, key), *annotation_ops(rollout.get("metadata"), clipped)]


def pointer(path: str, key: str) -> str:
    return f"{path}/{key.replace('~', '~0').replace('/', '~1')}"


def annotation_op(
    metadata_path: str, metadata: dict[str, Any] | None, key: str, value: str
) -> dict[str, Any]:
    """A JSON-patch operation setting one annotation, whatever of the path exists already."""
    if metadata is None:
        return {"op": "add", "path": metadata_path, "value": {"annotations": {key: value}}}
    if metadata.get("annotations") is None:
        return {"op": "add", "path": f"{metadata_path}/annotations", "value": {key: value}}
    return {"op": "add", "path": pointer(f"{metadata_path}/annotations", key), "value": value}


def annotation_ops(
    metadata: dict[str, Any] | None, values: dict[str, str | None]
) -> list[dict[str, Any]]:
    """JSON-patch operations setting the Rollout's annotations `values` (after `key_op`,
    which makes sure the annotations exist); a None removes an annotation that is there."""
    present = annotations_of({"metadata": metadata})
    operations = []
    for key, value in values.items():
        if value is not None:
            operations.append({"op": "add", "path": pointer("/metadata/annotations", key),
                               "value": value})  # fmt: skip
        elif key in present:
            operations.append({"op": "remove", "path": pointer("/metadata/annotations", key)})
    return operations

"""The Argo Rollouts backend: releases are pod templates of a Rollout; a rollback is abort + undo.

Configuration, per environment:

    backend_config  = {"api_url": "https://kubernetes.example.com:6443",
                       "namespace": "fraud",
                       "rollout": "fraud-model",
                       "verify_tls": true,                 # optional, default true
                       "ca_cert_pem": "-----BEGIN …",      # optional: the cluster's CA
                       "container": "model",               # optional if there is one container
                       "image": "registry.example.com/fraud/model:{release}",  # optional
                       "timeout_seconds": 10,              # optional, per request
                       "observe_seconds": 10}              # optional, see "Rollback" below
    backend_secrets = {"token": "…"}                       # Authorization: Bearer (a service
                                                           # account's token); optional only
                                                           # for http://127.0.0.1 (kubectl proxy)

The service account needs get and patch on `rollouts` and `rollouts/status` in
`argoproj.io`, and list on `replicasets` in `apps`, in that namespace. Argo Rollouts v1.0 or
later (the status subresource) is assumed; Rollouts that reference a Deployment
(`spec.workloadRef`) are not supported.

Which release a pod template is: Failsafe writes the annotation `failsafe.io/release` into
the Rollout's pod template when it deploys, so every ReplicaSet the controller makes from it
carries the release too. The idempotency keys Failsafe applied are kept (the last 20) in the
Rollout's own annotation `failsafe.io/idempotency-keys`, which does not touch the pod template.

Deploy sets the pod template: the configured container's image (`image`, a template with
`{release}` and `{model_version}`, or else the model component's URI, which must then be an
image reference, `docker://`/`oci://` prefixes allowed) and the release annotation; the
Rollout's own canary steps then decide the traffic (Failsafe's requested percentage is
recorded, not imposed). A deploy at general release also promotes fully
(`status.promoteFull`, as `kubectl argo rollouts promote --full`), once the controller has
observed the new template.

Rollback, as `kubectl argo rollouts abort` then `undo` do it:

1. read the Rollout and list its ReplicaSets (`apps/v1`, the Rollout's selector, owned by it);
   the target is the newest revision (`rollout.argoproj.io/revision`) whose template carries
   `failsafe.io/release=<target>`: a permanent error if there is none (Failsafe can only go
   back to templates it deployed, within the Rollout's revisionHistoryLimit);
2. if an update is in flight (`status.currentPodHash` ≠ `status.stableRS`), abort it: a merge
   patch `{"status":{"abort":true}}` to the status subresource, which sends the traffic back to
   the stable ReplicaSet at once;
3. undo: a JSON patch replacing `/spec/template` with the target ReplicaSet's template
   (its `rollouts-pod-template-hash` label removed), with the idempotency key added to the
   Rollout's annotations in the same patch, and why: `failsafe.io/rollback-reason` (the
   reason the presser typed, or the plan's trigger), `failsafe.io/rollback-requested-by`
   and `failsafe.io/rollback-incident` ("INC-42 <title>"; removed when this rollback serves
   no incident). These go on the Rollout's own metadata, never the pod template (which
   would make a new ReplicaSet), so `kubectl describe rollout` shows the last rollback's.
   When the target is the stable ReplicaSet the controller skips the steps (and clears the
   abort); otherwise Failsafe waits up to `observe_seconds` for the controller to observe
   the change and promotes fully, so the old version does not sit paused at a canary step.
   If the controller is slower, the call fails transiently and the retry (same key)
   finishes the promotion.

Pause and resume set `spec.paused` (a merge patch of the Rollout, as `kubectl argo rollouts
pause` does); abort sends `{"status":{"abort":true}}` to the status subresource while an
update is in flight (as `kubectl argo rollouts abort`), and nothing otherwise.

A call whose key is among the applied keys is a replay: it changes nothing except finishing
that promotion (and nothing at all if the template has since moved on).

Status reads `status.phase` (Healthy, Progressing, Paused, Degraded; "Progressing" while
the controller has not observed the latest spec, as the kubectl plugin reports it) and maps
pod templates to releases: `live_version` is the release of the stable ReplicaSet (the one
taking the traffic a canary does not); during an update, `candidate_version` is the
template's release and `traffic_percent` its canary weight when the Rollout reports one.

How answers are read (releases/backends/http.py): 2xx is success; 5xx, 408, 409 (a
concurrent change), 425, 429, timeouts and connection errors are transient; redirects are
not followed; other 4xx are permanent, with the API server's Status message and reason.

This backend is contract-tested, not run against a cluster: tests/releases/contracts/argo/
holds the exact requests it makes and answers shaped as a Kubernetes API server with Argo
Rollouts gives them (from the Argo Rollouts source and docs), replayed by a strict HTTP server
that fails on any request not in the contract. Try it on a staging cluster before relying
on it.

GitOps caveat: an auto-syncing Argo CD application reverts an in-cluster undo to what Git
says within minutes (selfHeal). With Argo CD, the rollback must also go to Git (revert the
image/annotation there), or auto-sync be paused for the application while the incident
lasts; otherwise the bad release comes back.

The modules: `backend` (the settings, and deploy, rollback and status as the steps above),
`rollout` (reading a Rollout and its ReplicaSets: pure functions of the API's JSON) and
`patches` (the patches that change it).
"""

from releases.backends.argo.backend import ArgoRolloutsBackend
from releases.backends.argo.rollout import (
    INCIDENT_ANNOTATION,
    KEYS_ANNOTATION,
    REASON_ANNOTATION,
    RELEASE_ANNOTATION,
    REQUESTED_BY_ANNOTATION,
)

__all__ = [
    "INCIDENT_ANNOTATION",
    "KEYS_ANNOTATION",
    "REASON_ANNOTATION",
    "RELEASE_ANNOTATION",
    "REQUESTED_BY_ANNOTATION",
    "ArgoRolloutsBackend",
]

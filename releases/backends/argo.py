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

A call whose key is among the applied keys is a replay: it changes nothing except finishing
that promotion (and nothing at all if the template has since moved on).

Status reads `status.phase` (Healthy, Progressing, Paused, Degraded; "Progressing" while
the controller has not observed the latest spec, as the kubectl plugin reports it) and maps
pod templates to releases: `live_version` is the release of the stable ReplicaSet (the one
taking the traffic a canary does not); during an update, `candidate_version` is the
template's release and `traffic_percent` its canary weight when the Rollout reports one.

How answers are read: 2xx is success; 5xx, 408, 409 (a concurrent change), 429, timeouts and
connection errors are transient; other 4xx are permanent, with the API server's Status
message and reason.

This backend is contract-tested, not run against a cluster: tests/releases/contracts/argo/
holds the exact requests it makes and answers shaped as a Kubernetes API server with Argo
Rollouts gives them (from the Argo Rollouts source and docs), replayed by a strict HTTP server
that fails on any request not in the contract. Try it on a staging cluster before relying
on it.

GitOps caveat: an auto-syncing Argo CD application reverts an in-cluster undo to what Git
says within minutes (selfHeal). With Argo CD, the rollback must also go to Git (revert the
image/annotation there), or auto-sync be paused for the application while the incident
lasts; otherwise the bad release comes back.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx

from releases.backends.base import BackendError, BackendResult, BackendStatus, RollbackContext
from releases.backends.http import MAX_MESSAGE_CHARS, json_of, summary, text_message
from releases.models import ComponentKind, RolloutStage

if TYPE_CHECKING:
    from releases.models import Environment, Release

RELEASE_ANNOTATION = "failsafe.io/release"
KEYS_ANNOTATION = "failsafe.io/idempotency-keys"
REASON_ANNOTATION = "failsafe.io/rollback-reason"
REQUESTED_BY_ANNOTATION = "failsafe.io/rollback-requested-by"
INCIDENT_ANNOTATION = "failsafe.io/rollback-incident"
MAX_ANNOTATION_CHARS = 2000  # a reason is prose; the Rollout's annotations share 256 KiB
REVISION_ANNOTATION = "rollout.argoproj.io/revision"
HASH_LABEL = "rollouts-pod-template-hash"
KEYS_KEPT = 20
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
ABORT_PATCH = {"status": {"abort": True}}
PROMOTE_FULL_PATCH = {"status": {"promoteFull": True}}
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_OBSERVE_SECONDS = 10.0
MAX_SECONDS = 120.0
POLL_SECONDS = 0.5
TRANSIENT_STATUSES = frozenset({408, 409, 429})

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_IMAGE = re.compile(r"[^\s]+")


class ArgoRolloutsBackend:
    """Deploys and rolls back one Argo Rollout through the Kubernetes API."""

    status_is_remote = True

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        config = environment.backend_config
        secrets = environment.backend_secrets
        if not isinstance(config, dict):
            raise self._misconfigured("backend_config must be a JSON object")
        token = secrets.get("token") if isinstance(secrets, dict) else None
        if token is not None and not isinstance(token, str):
            raise self._misconfigured("backend_secrets.token must be a string")
        self._token = token or None
        self.api_url = self._api_url(config.get("api_url"))
        self.namespace = self._name(config, "namespace", _DNS_LABEL)
        self.rollout = self._name(config, "rollout", _DNS_SUBDOMAIN)
        self.container = config.get("container")
        if self.container is not None and not (isinstance(self.container, str) and self.container):
            raise self._misconfigured("backend_config.container must be a container name")
        self.image_template = config.get("image")
        if self.image_template is not None and not isinstance(self.image_template, str):
            raise self._misconfigured("backend_config.image must be a string")
        self.timeout = self._seconds(config, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        self.observe_seconds = self._seconds(config, "observe_seconds", DEFAULT_OBSERVE_SECONDS)
        self._verify = self._tls(config)

    # Configuration

    def _misconfigured(self, problem: str) -> BackendError:
        return BackendError(f"Argo Rollouts backend of {self.environment}: {problem}.")

    def _api_url(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self._misconfigured("backend_config.api_url is missing")
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._misconfigured(
                f"backend_config.api_url must be the Kubernetes API server's URL, not {value!r}"
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            # A bearer token must not cross a network in clear text; plain http is for
            # `kubectl proxy` on the same machine.
            raise self._misconfigured("backend_config.api_url must be https (or http on loopback)")
        if parts.scheme == "https" and self._token is None:
            raise self._misconfigured("backend_secrets.token is missing")
        return value.strip().rstrip("/")

    def _name(self, config: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
        value = config.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self._misconfigured(
                f"backend_config.{key} must be a Kubernetes object name, not {value!r}"
            )
        return value

    def _seconds(self, config: dict[str, Any], key: str, default: float) -> float:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._misconfigured(f"backend_config.{key} must be a number, not {value!r}")
        if not 0 < value <= MAX_SECONDS:
            raise self._misconfigured(
                f"backend_config.{key} must be above 0 and at most {MAX_SECONDS:g}, not {value!r}"
            )
        return float(value)

    def _tls(self, config: dict[str, Any]) -> bool | ssl.SSLContext:
        verify = config.get("verify_tls", True)
        if not isinstance(verify, bool):
            raise self._misconfigured(
                f"backend_config.verify_tls must be true or false, not {verify!r}"
            )
        pem = config.get("ca_cert_pem")
        if not verify or pem is None:
            return verify
        if not isinstance(pem, str):
            raise self._misconfigured("backend_config.ca_cert_pem must be a PEM string")
        try:
            return ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError) as error:
            raise self._misconfigured(
                f"backend_config.ca_cert_pem is not a usable CA: {error}"
            ) from error

    # Paths

    @property
    def rollout_path(self) -> str:
        return f"/apis/argoproj.io/v1alpha1/namespaces/{self.namespace}/rollouts/{self.rollout}"

    @property
    def replicasets_path(self) -> str:
        return f"/apis/apps/v1/namespaces/{self.namespace}/replicasets"

    # The protocol

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult:
        image = self._image(release)
        rollout = self._get_rollout()
        template = _template(rollout, self.rollout)
        index, container = self._container(template)
        detail: dict[str, Any] = {
            "namespace": self.namespace,
            "rollout": self.rollout,
            "release": release.version,
            "image": image,
            "stage": stage,
            "requested_traffic_percent": float(traffic_percent),
            "traffic_note": "canary weights come from the Rollout's steps",
        }
        current = _annotations(template).get(RELEASE_ANNOTATION)
        replayed = idempotency_key in _applied_keys(rollout)
        if replayed and current != release.version:
            # Applied before and something has replaced it since: a late replay changes nothing.
            return BackendResult(accepted=True, detail={**detail, "replayed": True})
        template_set = False
        if current != release.version or container.get("image") != image:
            rollout = self._patch_json(
                [
                    {"op": "test", "path": f"/spec/template/spec/containers/{index}/name",
                     "value": container["name"]},
                    {"op": "replace", "path": f"/spec/template/spec/containers/{index}/image",
                     "value": image},
                    _annotation_op("/spec/template/metadata", template.get("metadata"),
                                   RELEASE_ANNOTATION, release.version),
                    self._key_op(rollout, idempotency_key),
                ],
                what=f"deploy of {release.version}",
            )  # fmt: skip
            template_set = True
        promoted = False
        if stage == RolloutStage.GENERAL_RELEASE:
            promoted = self._promote_full(rollout, what=f"general release of {release.version}")
        return BackendResult(
            accepted=True,
            detail={**detail, "template_set": template_set, "promoted_full": promoted,
                    "replayed": replayed},
        )  # fmt: skip

    def rollback(
        self,
        *,
        from_release: Release | None,
        to_release: Release,
        idempotency_key: str,
        context: RollbackContext,
    ) -> BackendResult:
        target_version = to_release.version
        rollout = self._get_rollout()
        template = _template(rollout, self.rollout)
        current = _annotations(template).get(RELEASE_ANNOTATION)
        detail: dict[str, Any] = {
            "namespace": self.namespace,
            "rollout": self.rollout,
            "release": target_version,
            "from_release": from_release.version if from_release else None,
            "replaced_release": current,
        }
        if idempotency_key in _applied_keys(rollout):
            promoted = False
            if current == target_version:
                promoted = self._promote_full(rollout, what=f"rollback to {target_version}")
            return BackendResult(
                accepted=True, detail={**detail, "promoted_full": promoted, "replayed": True}
            )
        target = self._target_replica_set(rollout, target_version)
        target_hash = _labels(target).get(HASH_LABEL)
        status = rollout.get("status") or {}
        stable = _stable_hash(status)
        in_flight = bool(stable) and status.get("currentPodHash") != stable
        aborted = False
        if in_flight and current != target_version:
            self._patch_status(ABORT_PATCH, what=f"abort before the rollback to {target_version}")
            aborted = True
        restored = copy.deepcopy(target["spec"]["template"])
        (restored.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
        rollout = self._patch_json(
            [
                {"op": "replace", "path": "/spec/template", "value": restored},
                *self._rollback_annotation_ops(rollout, idempotency_key, context),
            ],
            what=f"undo to {target_version}",
        )
        promoted = False
        if target_hash != stable:
            promoted = self._promote_full(rollout, what=f"rollback to {target_version}")
        return BackendResult(
            accepted=True,
            detail={
                **detail,
                "revision": _annotations(target).get(REVISION_ANNOTATION),
                "pod_template_hash": target_hash,
                "aborted": aborted,
                "promoted_full": promoted,
                "replayed": False,
            },
        )

    def status(self) -> BackendStatus:
        rollout = self._get_rollout()
        status = rollout.get("status") or {}
        template = (rollout.get("spec") or {}).get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        observed = _observed(rollout)
        if observed:
            phase, message = status.get("phase") or "Unknown", status.get("message") or ""
        else:
            phase, message = "Progressing", "waiting for rollout spec update to be observed"
        template_release = _annotations(template).get(RELEASE_ANNOTATION)
        stable = _stable_hash(status)
        fully_promoted = observed and bool(stable) and status.get("currentPodHash") == stable
        if fully_promoted:
            live = template_release
        elif stable:
            live = self._release_of_hash(rollout, stable)
        else:
            live = None
        candidate = None if fully_promoted or template_release == live else template_release
        weight = (((status.get("canary") or {}).get("weights") or {}).get("canary") or {}).get(
            "weight"
        )
        return BackendStatus(
            live_version=live,
            candidate_version=candidate,
            stage=RolloutStage.GENERAL_RELEASE if fully_promoted else None,
            traffic_percent=100.0 if fully_promoted
            else float(weight) if candidate and isinstance(weight, int | float) else None,
            detail={
                "namespace": self.namespace,
                "rollout": self.rollout,
                "phase": phase,
                "message": message,
                "observed": observed,
                "aborted": bool(status.get("abort")),
                "stable_rs": stable or None,
                "current_pod_hash": status.get("currentPodHash"),
                "revision": _annotations(rollout).get(REVISION_ANNOTATION),
                "images": [container.get("image") for container in containers],
                "template_release": template_release,
            },
        )  # fmt: skip

    # Steps

    def _image(self, release: Release) -> str:
        component = next(
            (c for c in release.components.all() if c.kind == ComponentKind.MODEL), None
        )
        model_version = component.version if component else ""
        if self.image_template:
            try:
                image = self.image_template.format(
                    release=release.version, model_version=model_version
                )
            except (KeyError, IndexError, ValueError) as error:
                raise self._misconfigured(
                    f"backend_config.image {self.image_template!r} may use only {{release}} "
                    f"and {{model_version}} ({error})"
                ) from error
        elif component is None:
            raise BackendError(
                f"Release {release.version} has no model component and backend_config.image "
                "is not set: there is no image to deploy."
            )
        else:
            uri = component.uri.strip()
            image = uri.removeprefix("docker://").removeprefix("oci://")
            if "://" in image or image.startswith("models:/"):
                raise BackendError(
                    f"Release {release.version}: its model URI {uri!r} is not an image "
                    "reference; set backend_config.image (e.g. "
                    '"registry.example.com/fraud/model:{release}").'
                )
        if not _IMAGE.fullmatch(image):
            raise BackendError(f"Release {release.version}: {image!r} is not an image reference.")
        return image

    def _container(self, template: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        containers = (template.get("spec") or {}).get("containers") or []
        if self.container is None:
            if len(containers) != 1:
                raise self._misconfigured(
                    f"the Rollout has {len(containers)} containers: set backend_config.container"
                )
            return 0, containers[0]
        for index, container in enumerate(containers):
            if container.get("name") == self.container:
                return index, container
        raise self._misconfigured(f"the Rollout has no container {self.container!r}")

    def _key_op(self, rollout: dict[str, Any], key: str) -> dict[str, Any]:
        earlier = [k for k in _applied_keys(rollout) if k != key]
        keys = [*earlier[len(earlier) - KEYS_KEPT + 1 :], key]
        return _annotation_op(
            "/metadata", rollout.get("metadata"), KEYS_ANNOTATION, json.dumps(keys)
        )

    def _rollback_annotation_ops(
        self, rollout: dict[str, Any], key: str, context: RollbackContext
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
        return [self._key_op(rollout, key), *_annotation_ops(rollout.get("metadata"), clipped)]

    def _target_replica_set(self, rollout: dict[str, Any], version: str) -> dict[str, Any]:
        candidates = [
            rs for rs in self._replica_sets(rollout)
            if _annotations((rs.get("spec") or {}).get("template") or {}).get(RELEASE_ANNOTATION)
            == version
        ]  # fmt: skip
        if not candidates:
            raise BackendError(
                f"Rollout {self.namespace}/{self.rollout} has no ReplicaSet whose template "
                f"carries {RELEASE_ANNOTATION}={version}: Failsafe can roll back only to "
                "templates it deployed that are still within the Rollout's "
                "revisionHistoryLimit."
            )
        return max(candidates, key=_revision)

    def _release_of_hash(self, rollout: dict[str, Any], pod_hash: str) -> str | None:
        for rs in self._replica_sets(rollout, pod_hash=pod_hash):
            if _labels(rs).get(HASH_LABEL) == pod_hash:
                template = (rs.get("spec") or {}).get("template") or {}
                return _annotations(template).get(RELEASE_ANNOTATION)
        return None

    def _replica_sets(
        self, rollout: dict[str, Any], *, pod_hash: str | None = None
    ) -> list[dict[str, Any]]:
        """The Rollout's ReplicaSets: its selector's, controlled by it (as kubectl's undo)."""
        spec_selector = _selector((rollout.get("spec") or {}).get("selector") or {})
        hash_selector = f"{HASH_LABEL}={pod_hash}" if pod_hash else ""
        selector = ",".join(part for part in (spec_selector, hash_selector) if part)
        payload = self._call(
            "GET", self.replicasets_path, params={"labelSelector": selector} if selector else None,
            what="list of ReplicaSets",
        )  # fmt: skip
        uid = (rollout.get("metadata") or {}).get("uid")
        return [
            rs for rs in payload.get("items") or []
            if any(ref.get("controller") and ref.get("uid") == uid
                   for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])
        ]  # fmt: skip

    def _promote_full(self, rollout: dict[str, Any], *, what: str) -> bool:
        """Once the controller has observed the template, promote it fully if it is not yet
        the stable one. True when a promotion is (or was already) under way."""
        deadline = time.monotonic() + self.observe_seconds
        while not _observed(rollout):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"The {what} is applied, but the Argo Rollouts controller has not observed "
                    f"generation {(rollout.get('metadata') or {}).get('generation')} of "
                    f"{self.namespace}/{self.rollout} within {self.observe_seconds:g} s; a "
                    "retry finishes the promotion.",
                    transient=True,
                )
            time.sleep(POLL_SECONDS)
            rollout = self._get_rollout()
        status = rollout.get("status") or {}
        if status.get("currentPodHash") == _stable_hash(status):
            return False
        if not status.get("promoteFull"):
            self._patch_status(PROMOTE_FULL_PATCH, what=f"full promotion for the {what}")
        return True

    # HTTP

    def _get_rollout(self) -> dict[str, Any]:
        return self._call("GET", self.rollout_path, what=f"read of Rollout {self.rollout}")

    def _patch_status(self, patch: dict[str, Any], *, what: str) -> dict[str, Any]:
        return self._call(
            "PATCH", self.rollout_path + "/status", body=patch, content_type=MERGE_PATCH, what=what
        )

    def _patch_json(self, operations: list[dict[str, Any]], *, what: str) -> dict[str, Any]:
        return self._call(
            "PATCH", self.rollout_path, body=operations, content_type=JSON_PATCH, what=what
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": "failsafe-argo/1"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        content = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            content = json.dumps(body, separators=(",", ":")).encode()
        url = self.api_url + quote(path)
        try:
            with httpx.Client(
                timeout=self.timeout, verify=self._verify, follow_redirects=False
            ) as client:
                response = client.request(
                    method, url, params=params, content=content, headers=headers
                )
        except httpx.TimeoutException as error:
            raise BackendError(
                f"The Kubernetes API did not answer the {what} within {self.timeout:g} s "
                f"({type(error).__name__}).",
                transient=True,
            ) from error
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
            raise BackendError(f"Argo {what} could not be sent: {error}.") from error
        except httpx.TransportError as error:
            raise BackendError(
                f"The Kubernetes API at {self.api_url} is unreachable for the {what}: "
                f"{error or type(error).__name__}.",
                transient=True,
            ) from error
        return self._json_or_raise(response, what=what)

    def _json_or_raise(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        code = response.status_code
        payload = json_of(response)
        if 200 <= code < 300:
            if not isinstance(payload, dict):
                raise BackendError(
                    f"The Kubernetes API answered the {what} with something that is not a JSON "
                    f"object (HTTP {code}).",
                    response=summary(response),
                )
            return payload
        message = _status_message(response, payload)
        if code >= 500 or code in TRANSIENT_STATUSES:
            raise BackendError(
                f"The Kubernetes API failed the {what} (HTTP {code}): {message}",
                transient=True, response=summary(response),
            )  # fmt: skip
        raise BackendError(
            f"The Kubernetes API refused the {what} (HTTP {code}): {message}",
            response=summary(response),
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _template(rollout: dict[str, Any], name: str) -> dict[str, Any]:
    template = (rollout.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        raise BackendError(
            f"Rollout {name} has no spec.template (it may reference a Deployment with "
            "spec.workloadRef, which this backend does not support)."
        )
    return template


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _applied_keys(rollout: dict[str, Any]) -> list[str]:
    try:
        keys = json.loads(_annotations(rollout).get(KEYS_ANNOTATION) or "[]")
    except ValueError:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _pointer(path: str, key: str) -> str:
    return f"{path}/{key.replace('~', '~0').replace('/', '~1')}"


def _annotation_op(
    metadata_path: str, metadata: dict[str, Any] | None, key: str, value: str
) -> dict[str, Any]:
    """A JSON-patch operation setting one annotation, whatever of the path exists already."""
    if metadata is None:
        return {"op": "add", "path": metadata_path, "value": {"annotations": {key: value}}}
    if metadata.get("annotations") is None:
        return {"op": "add", "path": f"{metadata_path}/annotations", "value": {key: value}}
    return {"op": "add", "path": _pointer(f"{metadata_path}/annotations", key), "value": value}


def _annotation_ops(
    metadata: dict[str, Any] | None, values: dict[str, str | None]
) -> list[dict[str, Any]]:
    """JSON-patch operations setting the Rollout's annotations `values` (after `_key_op`,
    which makes sure the annotations exist); a None removes an annotation that is there."""
    present = _annotations({"metadata": metadata})
    operations = []
    for key, value in values.items():
        if value is not None:
            operations.append({"op": "add", "path": _pointer("/metadata/annotations", key),
                               "value": value})  # fmt: skip
        elif key in present:
            operations.append({"op": "remove", "path": _pointer("/metadata/annotations", key)})
    return operations


def _stable_hash(status: dict[str, Any]) -> str:
    # Rollouts before v1.0 kept it under status.canary.stableRS only.
    return str(status.get("stableRS") or (status.get("canary") or {}).get("stableRS") or "")


def _observed(rollout: dict[str, Any]) -> bool:
    """Has the controller seen the latest spec? (The kubectl plugin's isGenerationObserved.)"""
    observed = (rollout.get("status") or {}).get("observedGeneration")
    generation = (rollout.get("metadata") or {}).get("generation")
    if not isinstance(observed, str | int) or not isinstance(generation, int):
        return True
    try:
        observed_number = int(observed)  # a string in Rollouts v1, an old hash before
    except ValueError:
        return True
    return observed_number >= generation


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int(_annotations(rs).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _selector(selector: dict[str, Any]) -> str:
    """A LabelSelector as the `labelSelector` query parameter spells it."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
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


def _status_message(response: httpx.Response, payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("message"):
        reason = payload.get("reason") or "Failure"
        return f"{reason}: {str(payload['message'])[:MAX_MESSAGE_CHARS]}"
    return text_message(response)

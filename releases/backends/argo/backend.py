"""The Argo Rollouts backend's steps: deploy, rollback (abort + undo) and status, as the
package docstring describes them, through the Kubernetes API."""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from releases.backends.argo import patches
from releases.backends.argo.rollout import (
    HASH_LABEL,
    RELEASE_ANNOTATION,
    REVISION_ANNOTATION,
    annotations_of,
    applied_keys,
    controlled_by,
    labels_of,
    observed,
    release_of,
    revision,
    selector,
    stable_hash,
    status_of,
    template,
)
from releases.backends.base import BackendError, BackendResult, BackendStatus, RollbackContext
from releases.backends.http import MAX_MESSAGE_CHARS, TRANSIENT_STATUSES, HttpBackend, ca_context
from releases.models import ComponentKind, RolloutStage

if TYPE_CHECKING:
    from releases.models import Environment, Release

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_OBSERVE_SECONDS = 10.0
POLL_SECONDS = 0.5

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_IMAGE = re.compile(r"[^\s]+")


class ArgoRolloutsBackend(HttpBackend):
    """Deploys and rolls back one Argo Rollout through the Kubernetes API."""

    name = "Argo Rollouts"
    peer = "The Kubernetes API"
    user_agent = "failsafe-argo/1"
    url_setting = "api_url"
    # 409: another writer changed the Rollout first; the retry reads it again.
    transient_statuses = TRANSIENT_STATUSES | {409}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._token = self._bearer_token()
        self.api_url = self._api_url()
        self.namespace = self._object_name("namespace", _DNS_LABEL)
        self.rollout = self._object_name("rollout", _DNS_SUBDOMAIN)
        self.container = self.config.get("container")
        if self.container is not None and not (isinstance(self.container, str) and self.container):
            raise self._misconfigured("backend_config.container must be a container name")
        self.image_template = self.config.get("image")
        if self.image_template is not None and not isinstance(self.image_template, str):
            raise self._misconfigured("backend_config.image must be a string")
        self.timeout = self._seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        self.observe_seconds = self._seconds("observe_seconds", DEFAULT_OBSERVE_SECONDS)
        self.tls_verify = self._tls()

    # Configuration

    def _api_url(self) -> str:
        url = self._http_url("api_url", must_be="the Kubernetes API server's URL").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            # A bearer token must not cross a network in clear text; plain http is for
            # `kubectl proxy` on the same machine.
            raise self._misconfigured("backend_config.api_url must be https (or http on loopback)")
        if parts.scheme == "https" and self._token is None:
            raise self._misconfigured("backend_secrets.token is missing")
        return url

    def _object_name(self, key: str, pattern: re.Pattern[str]) -> str:
        value = self.config.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self._misconfigured(
                f"backend_config.{key} must be a Kubernetes object name, not {value!r}"
            )
        return value

    def _tls(self) -> bool | str:
        """True, False, or the PEM of the cluster's CA (checked here, loaded once)."""
        verify = self.config.get("verify_tls", True)
        if not isinstance(verify, bool):
            raise self._misconfigured(
                f"backend_config.verify_tls must be true or false, not {verify!r}"
            )
        pem = self.config.get("ca_cert_pem")
        if not verify or pem is None:
            return verify
        if not isinstance(pem, str):
            raise self._misconfigured("backend_config.ca_cert_pem must be a PEM string")
        try:
            ca_context(pem)
        except (ssl.SSLError, ValueError) as error:
            raise self._misconfigured(
                f"backend_config.ca_cert_pem is not a usable CA: {error}"
            ) from error
        return pem

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
        pod_template = template(rollout, self.rollout)
        index, container = self._container(pod_template)
        detail: dict[str, Any] = {
            "namespace": self.namespace,
            "rollout": self.rollout,
            "release": release.version,
            "image": image,
            "stage": stage,
            "requested_traffic_percent": float(traffic_percent),
            "traffic_note": "canary weights come from the Rollout's steps",
        }
        current = annotations_of(pod_template).get(RELEASE_ANNOTATION)
        replayed = idempotency_key in applied_keys(rollout)
        if replayed and current != release.version:
            # Applied before and something has replaced it since: a late replay changes nothing.
            return BackendResult(accepted=True, detail={**detail, "replayed": True})
        template_set = False
        if current != release.version or container.get("image") != image:
            rollout = self._patch_json(
                patches.deploy_ops(
                    rollout, pod_template, index, container, image=image,
                    release=release.version, key=idempotency_key,
                ),
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
        current = annotations_of(template(rollout, self.rollout)).get(RELEASE_ANNOTATION)
        detail: dict[str, Any] = {
            "namespace": self.namespace,
            "rollout": self.rollout,
            "release": target_version,
            "from_release": from_release.version if from_release else None,
            "replaced_release": current,
        }
        if idempotency_key in applied_keys(rollout):
            promoted = False
            if current == target_version:
                promoted = self._promote_full(rollout, what=f"rollback to {target_version}")
            return BackendResult(
                accepted=True, detail={**detail, "promoted_full": promoted, "replayed": True}
            )
        target = self._target_replica_set(rollout, target_version)
        target_hash = labels_of(target).get(HASH_LABEL)
        status = rollout.get("status") or {}
        stable = stable_hash(status)
        in_flight = bool(stable) and status.get("currentPodHash") != stable
        aborted = False
        if in_flight and current != target_version:
            self._patch_status(
                patches.ABORT_PATCH, what=f"abort before the rollback to {target_version}"
            )
            aborted = True
        rollout = self._patch_json(
            patches.undo_ops(rollout, target, idempotency_key, context),
            what=f"undo to {target_version}",
        )
        promoted = False
        if target_hash != stable:
            promoted = self._promote_full(rollout, what=f"rollback to {target_version}")
        return BackendResult(
            accepted=True,
            detail={
                **detail,
                "revision": annotations_of(target).get(REVISION_ANNOTATION),
                "pod_template_hash": target_hash,
                "aborted": aborted,
                "promoted_full": promoted,
                "replayed": False,
            },
        )

    def pause(self, *, release: Release, idempotency_key: str) -> BackendResult:
        """`spec.paused: true`: the controller holds the Rollout at its current step."""
        self._patch_merge(patches.PAUSE_PATCH, what=f"pause of {release.version}'s rollout")
        return BackendResult(accepted=True, detail={**self._where(), "paused": True})

    def resume(self, *, release: Release, idempotency_key: str) -> BackendResult:
        self._patch_merge(patches.RESUME_PATCH, what=f"resume of {release.version}'s rollout")
        return BackendResult(accepted=True, detail={**self._where(), "paused": False})

    def abort(self, *, release: Release, idempotency_key: str, reason: str) -> BackendResult:
        """`status.abort: true` while an update is in flight: the traffic goes back to the
        stable ReplicaSet at once. Nothing in flight (already aborted, or never started):
        nothing to do, so a repeated abort changes nothing."""
        status = self._get_rollout().get("status") or {}
        stable = stable_hash(status)
        in_flight = bool(stable) and status.get("currentPodHash") != stable
        if in_flight and not status.get("abort"):
            self._patch_status(patches.ABORT_PATCH, what=f"abort of {release.version}")
        return BackendResult(
            accepted=True,
            detail={**self._where(), "aborted": in_flight, "release": release.version},
        )

    def _where(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "rollout": self.rollout}

    def status(self) -> BackendStatus:
        return status_of(
            self._get_rollout(), detail={"namespace": self.namespace, "rollout": self.rollout},
            release_of_hash=self._release_of_hash,
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

    def _container(self, pod_template: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        containers = (pod_template.get("spec") or {}).get("containers") or []
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

    def _target_replica_set(self, rollout: dict[str, Any], version: str) -> dict[str, Any]:
        candidates = [rs for rs in self._replica_sets(rollout) if release_of(rs) == version]
        if not candidates:
            raise BackendError(
                f"Rollout {self.namespace}/{self.rollout} has no ReplicaSet whose template "
                f"carries {RELEASE_ANNOTATION}={version}: Failsafe can roll back only to "
                "templates it deployed that are still within the Rollout's "
                "revisionHistoryLimit."
            )
        return max(candidates, key=revision)

    def _release_of_hash(self, rollout: dict[str, Any], pod_hash: str) -> str | None:
        for rs in self._replica_sets(rollout, pod_hash=pod_hash):
            if labels_of(rs).get(HASH_LABEL) == pod_hash:
                return release_of(rs)
        return None

    def _replica_sets(
        self, rollout: dict[str, Any], *, pod_hash: str | None = None
    ) -> list[dict[str, Any]]:
        """The Rollout's ReplicaSets: its selector's, controlled by it (as kubectl's undo)."""
        spec_selector = selector((rollout.get("spec") or {}).get("selector") or {})
        hash_selector = f"{HASH_LABEL}={pod_hash}" if pod_hash else ""
        label_selector = ",".join(part for part in (spec_selector, hash_selector) if part)
        payload = self._call(
            "GET", self.replicasets_path,
            params={"labelSelector": label_selector} if label_selector else None,
            what="list of ReplicaSets",
        )  # fmt: skip
        return controlled_by(payload.get("items") or [], rollout)

    def _promote_full(self, rollout: dict[str, Any], *, what: str) -> bool:
        """Once the controller has observed the template, promote it fully if it is not yet
        the stable one. True when a promotion is (or was already) under way."""
        deadline = time.monotonic() + self.observe_seconds
        while not observed(rollout):
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
        if status.get("currentPodHash") == stable_hash(status):
            return False
        if not status.get("promoteFull"):
            self._patch_status(patches.PROMOTE_FULL_PATCH, what=f"full promotion for the {what}")
        return True

    # HTTP

    @property
    def peer_at(self) -> str:
        return f"The Kubernetes API at {self.api_url}"

    def _get_rollout(self) -> dict[str, Any]:
        return self._call("GET", self.rollout_path, what=f"read of Rollout {self.rollout}")

    def _patch_status(self, patch: dict[str, Any], *, what: str) -> dict[str, Any]:
        return self._call(
            "PATCH", self.rollout_path + "/status", body=patch, content_type=patches.MERGE_PATCH,
            what=what,
        )  # fmt: skip

    def _patch_merge(self, patch: dict[str, Any], *, what: str) -> dict[str, Any]:
        return self._call(
            "PATCH", self.rollout_path, body=patch, content_type=patches.MERGE_PATCH, what=what
        )

    def _patch_json(self, operations: list[dict[str, Any]], *, what: str) -> dict[str, Any]:
        return self._call(
            "PATCH", self.rollout_path, body=operations, content_type=patches.JSON_PATCH, what=what
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
        headers, content = {}, None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            content = json.dumps(body, separators=(",", ":")).encode()
        response = self._request(
            method, self.api_url + quote(path), params=params, content=content, headers=headers,
            what=what,
        )  # fmt: skip
        return self._json_or_raise(response, what=what)

    def _error_message(self, payload: dict[str, Any]) -> str | None:
        """The API server's Status: its reason and message."""
        if payload.get("message"):
            reason = payload.get("reason") or "Failure"
            return f"{reason}: {str(payload['message'])[:MAX_MESSAGE_CHARS]}"
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

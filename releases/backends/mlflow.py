"""The MLflow Model Registry backend: what is live is the model version an alias points at.

Configuration, per environment:

    backend_config  = {"tracking_uri": "https://mlflow.example.com",
                       "model_name": "fraud-gbm",          # the registered model
                       "alias": "champion",                # the alias serving reads
                       "timeout_seconds": 10}              # optional, per connect/read/write
    backend_secrets = {"token": "…"}                       # optional: Authorization: Bearer

Failsafe speaks MLflow's REST API (`/api/2.0/mlflow/…`) with httpx; the `mlflow` package is
not needed at run time. Serving is expected to load `models:/<model_name>@<alias>`.

Which model version a release means: the release's model component URI
`models:/<model_name>/<version>`; failing that, the component's `version` when it is a
plain integer. Anything else (`models:/fraud-gbm@champion`, `s3://…`, a model of another
name) is a permanent BackendError saying so: an alias or a stage is not a pinned version.

Rollback (and a deploy at general release) moves the alias:

1. read the alias (`GET registered-models/alias`) to record which version it left;
2. read the target version (`GET model-versions/get`): it must exist and be READY;
3. tag the target version `failsafe.release=<release version>`,
   `failsafe.rollback_reason` (the reason the presser typed, or the plan's trigger),
   `failsafe.rollback_requested_by` (who asked, and who confirmed a proposal),
   `failsafe.incident` (the incident it serves: "INC-42 <title>"; removed when a later
   change serves none) and `failsafe.replaced_version`;
4. point the alias at it (`POST registered-models/alias`);
5. tag it `failsafe.idempotency_key=<key>`, last, so the key marks a finished change.

Idempotency: a call whose key the target version already carries is a replay and changes
nothing (not even when the alias has since moved on: a late redelivery must not undo a
later change). A call interrupted between steps is simply done again: every step is a
"set", so repeating it is harmless.

Deploys to earlier stages change nothing in MLflow: a registry alias has no traffic split,
so shadow and segment stages are run by whatever reads the pinned version. They are
accepted and answered with a detail saying so.

Status reads the alias and its version's tags: `live_version` is the version's
`failsafe.release` tag (None for a version Failsafe never tagged, or an unset alias).
MLflow keeps no history of an alias: Failsafe's own deployment history is the ledger of
what was live when. One model version can serve several releases (a release that changed
only a threshold policy keeps its model); its `failsafe.release` tag names the last one
Failsafe made live with it.

How answers are read (releases/backends/http.py): 2xx is success; 5xx, 408, 425, 429,
timeouts and connection errors are transient (retried; every step is safe to repeat); 3xx
(redirects are not followed) and other 4xx are permanent, with MLflow's `error_code` and
`message`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from releases.backends.base import BackendError, BackendResult, BackendStatus, RollbackContext
from releases.backends.http import MAX_MESSAGE_CHARS, HttpBackend
from releases.models import ComponentKind, RolloutStage

if TYPE_CHECKING:
    from releases.models import Environment, Release

API_PREFIX = "/api/2.0/mlflow/"
TAG_RELEASE = "failsafe.release"
TAG_IDEMPOTENCY_KEY = "failsafe.idempotency_key"
TAG_REASON = "failsafe.rollback_reason"
TAG_INCIDENT = "failsafe.incident"
TAG_REQUESTED_BY = "failsafe.rollback_requested_by"
# Said of one change only: a later change that has nothing to say of them removes them.
CHANGE_TAGS = (TAG_INCIDENT, TAG_REQUESTED_BY)
TAG_REPLACED = "failsafe.replaced_version"
MAX_TAG_VALUE_CHARS = 5000  # MLflow's limit on a model-version tag value
DEFAULT_TIMEOUT_SECONDS = 10.0

_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))/?")
_VERSION = re.compile(r"[1-9][0-9]{0,18}")
# MLflow refuses these as alias names: they would shadow `latest` and version references.
_RESERVED_ALIAS = re.compile(r"latest|v[0-9]+", re.IGNORECASE)


class MlflowBackend(HttpBackend):
    """Makes a release live by pointing a registered model's alias at its version."""

    name = peer = "MLflow"
    user_agent = "failsafe-mlflow/1"
    url_setting = "tracking_uri"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.tracking_uri = self._http_url(
            "tracking_uri", must_be="an http(s) URL of a tracking server"
        ).rstrip("/")
        self.model_name = self._name("model_name")
        self.alias = self._name("alias")
        if _RESERVED_ALIAS.fullmatch(self.alias):
            raise self._misconfigured(f"backend_config.alias {self.alias!r} is reserved by MLflow")
        self.timeout = self._seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        self._token = self._bearer_token()

    # Configuration

    def _name(self, key: str) -> str:
        value = self.config.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._misconfigured(f"backend_config.{key} is missing")
        return value.strip()

    # Which model version a release means

    def model_version(self, release: Release) -> str:
        """The registered-model version `release` deploys, as MLflow spells it ("3")."""
        component = next(
            (c for c in release.components.all() if c.kind == ComponentKind.MODEL), None
        )
        if component is None:
            raise BackendError(
                f"Release {release.version} has no model component: the MLflow backend "
                f"deploys a version of registered model {self.model_name!r}."
            )
        uri, version = component.uri.strip(), component.version.strip()
        match = _MODELS_URI.fullmatch(uri)
        if match is not None:
            if match["name"] != self.model_name:
                raise BackendError(
                    f"Release {release.version}: its model URI {uri!r} names registered model "
                    f"{match['name']!r}, but {self.environment} serves {self.model_name!r}."
                )
            if match["version"] is not None and _VERSION.fullmatch(match["version"]):
                return match["version"]
        if _VERSION.fullmatch(version):
            return version
        raise BackendError(
            f"Release {release.version}: cannot tell which version of registered model "
            f"{self.model_name!r} it is. Its model URI {uri!r} is not "
            f"models:/{self.model_name}/<version> and its model version {version!r} is not "
            f"a version number."
        )

    # The protocol

    def deploy(
        self, *, release: Release, stage: str, traffic_percent: float, idempotency_key: str
    ) -> BackendResult:
        version = self.model_version(release)
        if stage != RolloutStage.GENERAL_RELEASE:
            return BackendResult(
                accepted=True,
                detail={
                    "applied": False,
                    "model_name": self.model_name,
                    "model_version": int(version),
                    "stage": stage,
                    "reason": (
                        f"MLflow has no traffic split: only the general release moves alias "
                        f"{self.alias!r}; this stage runs wherever models:/{self.model_name}/"
                        f"{version} is read."
                    ),
                },
            )
        return self._point_alias(
            release=release, version=version, idempotency_key=idempotency_key,
            tags={TAG_REASON: f"General release of {release.version}."}, what="deploy",
        )  # fmt: skip

    def rollback(
        self,
        *,
        from_release: Release | None,
        to_release: Release,
        idempotency_key: str,
        context: RollbackContext,
    ) -> BackendResult:
        """Point the alias back at `to_release`'s version, tagged with why, on whose word
        and for which incident (`context`)."""
        reason = context.reason.strip() or (
            f"Rollback from {from_release.version if from_release else 'an unknown release'} "
            f"to {to_release.version}."
        )
        tags = {TAG_REASON: reason, TAG_REQUESTED_BY: context.asked_by}
        if context.incident:
            title = f" {context.incident_title}" if context.incident_title else ""
            tags[TAG_INCIDENT] = f"{context.incident}{title}"
        return self._point_alias(
            release=to_release, version=self.model_version(to_release),
            idempotency_key=idempotency_key, tags=tags, what="rollback",
            detail={"from_release": from_release.version if from_release else None},
        )  # fmt: skip

    def pause(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._nothing_to_hold(release, "pause")

    def resume(self, *, release: Release, idempotency_key: str) -> BackendResult:
        return self._nothing_to_hold(release, "resume")

    def abort(self, *, release: Release, idempotency_key: str, reason: str) -> BackendResult:
        return self._nothing_to_hold(release, "abort")

    def _nothing_to_hold(self, release: Release, action: str) -> BackendResult:
        """Before general release a candidate never moved the alias: a registry has no
        rollout to hold or undo, so a control is Failsafe's alone."""
        return BackendResult(
            accepted=True,
            detail={
                "applied": False,
                "action": action,
                "model_name": self.model_name,
                "reason": (
                    f"MLflow holds no rollout: alias {self.alias!r} moves only at general "
                    f"release, so {release.version}'s candidate changed nothing there to "
                    f"{action}; Failsafe's gate holds the rollout."
                ),
            },
        )

    def status(self) -> BackendStatus:
        current = self._alias_target()
        detail: dict[str, Any] = {"model_name": self.model_name, "alias": self.alias}
        if current is None:
            return BackendStatus(live_version=None, detail={**detail, "model_version": None})
        tags = _tags(current)
        return BackendStatus(
            live_version=tags.get(TAG_RELEASE) or None,
            stage=RolloutStage.GENERAL_RELEASE,
            traffic_percent=100.0,
            detail={
                **detail,
                "model_version": int(current["version"]),
                "idempotency_key": tags.get(TAG_IDEMPOTENCY_KEY),
            },
        )

    # Moving the alias

    def _point_alias(
        self,
        *,
        release: Release,
        version: str,
        idempotency_key: str,
        tags: dict[str, str],
        what: str,
        detail: dict[str, Any] | None = None,
    ) -> BackendResult:
        current = self._alias_target()
        previous = str(current["version"]) if current else None
        target = self._model_version(version)
        detail = {
            **(detail or {}),
            "model_name": self.model_name,
            "alias": self.alias,
            "model_version": int(version),
            "release": release.version,
            "replaced_model_version": int(previous) if previous else None,
        }
        if _tags(target).get(TAG_IDEMPOTENCY_KEY) == idempotency_key:
            # Applied before (the answer was lost, or the task was re-delivered).
            return BackendResult(accepted=True, detail={**detail, "replayed": True})
        state = target.get("status", "READY")
        if state == "PENDING_REGISTRATION":
            raise BackendError(
                f"MLflow model {self.model_name!r} version {version} is still being registered.",
                transient=True,
            )
        if state != "READY":
            raise BackendError(
                f"MLflow model {self.model_name!r} version {version} is {state}, not READY: "
                f"{target.get('status_message') or 'no message'}"
            )
        tags = {TAG_RELEASE: release.version, **tags}
        if previous and previous != version:
            tags[TAG_REPLACED] = previous
        for key, value in tags.items():
            self._set_tag(version, key, value, what=what)
        # An earlier change's incident or requester would be read as this change's.
        for key in CHANGE_TAGS:
            if key not in tags and key in _tags(target):
                self._delete_tag(version, key, what=what)
        self._call(
            "POST", "registered-models/alias",
            body={"name": self.model_name, "alias": self.alias, "version": version},
            what=f"{what} (moving alias {self.alias!r} to version {version})",
        )  # fmt: skip
        self._set_tag(version, TAG_IDEMPOTENCY_KEY, idempotency_key, what=what)
        return BackendResult(accepted=True, detail={**detail, "replayed": False})

    def _set_tag(self, version: str, key: str, value: str, *, what: str) -> None:
        self._call(
            "POST", "model-versions/set-tag",
            body={"name": self.model_name, "version": version, "key": key,
                  "value": value[:MAX_TAG_VALUE_CHARS]},
            what=f"{what} (tagging version {version} {key})",
        )  # fmt: skip

    def _delete_tag(self, version: str, key: str, *, what: str) -> None:
        response = self._api(
            "DELETE", "model-versions/delete-tag",
            body={"name": self.model_name, "version": version, "key": key},
            what=f"{what} (removing tag {key} of version {version})",
        )  # fmt: skip
        if response.status_code == 404:
            return  # gone already: a repeated step
        self._json_or_raise(response, what=f"{what} (removing tag {key} of version {version})")

    # Reading the registry

    def _model_version(self, version: str) -> dict[str, Any]:
        payload = self._call(
            "GET", "model-versions/get", params={"name": self.model_name, "version": version},
            what=f"read of model {self.model_name!r} version {version}",
        )  # fmt: skip
        return _object(payload, "model_version")

    def _alias_target(self) -> dict[str, Any] | None:
        """The model version the alias points at (with its tags), or None if it is unset."""
        response = self._api(
            "GET", "registered-models/alias", params={"name": self.model_name, "alias": self.alias},
            what="alias read",
        )  # fmt: skip
        if response.status_code in (400, 404):
            # MLflow answers an unset alias with 400 INVALID_PARAMETER_VALUE, the same as some
            # bad requests: the registered model's alias list tells the two apart.
            payload = self._call(
                "GET", "registered-models/get", params={"name": self.model_name},
                what=f"read of registered model {self.model_name!r}",
            )  # fmt: skip
            model = _object(payload, "registered_model")
            aliases = {a.get("alias"): a.get("version") for a in model.get("aliases") or []}
            if self.alias not in aliases:
                return None
            return self._model_version(str(aliases[self.alias]))
        return _object(self._json_or_raise(response, what="alias read"), "model_version")

    # HTTP

    @property
    def peer_at(self) -> str:
        return f"MLflow at {self.tracking_uri}"

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self._api(method, endpoint, params=params, body=body, what=what)
        return self._json_or_raise(response, what=what)

    def _api(
        self,
        method: str,
        endpoint: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        url = self.tracking_uri + API_PREFIX + endpoint
        return self._request(method, url, params=params, json_body=body, what=what)

    def _not_an_object_ending(self) -> str:
        return f"; is {self.tracking_uri} an MLflow tracking server?"

    def _error_message(self, payload: dict[str, Any]) -> str | None:
        if payload.get("error_code") or payload.get("message"):
            code = payload.get("error_code") or "ERROR"
            return f"{code}: {str(payload.get('message', ''))[:MAX_MESSAGE_CHARS]}"
        return None


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict) or (key == "model_version" and "version" not in value):
        raise BackendError(f"MLflow's answer lacks {key}: {str(payload)[:MAX_MESSAGE_CHARS]}")
    return value


def _tags(model_version: dict[str, Any]) -> dict[str, str]:
    return {
        tag["key"]: tag.get("value", "")
        for tag in model_version.get("tags") or []
        if isinstance(tag, dict) and "key" in tag
    }

"""What the import reads back from MLflow, over its REST API, for one followed model.

    GET {tracking}/api/2.0/mlflow/model-versions/get?name=&version=   source, run_id, status
    GET {tracking}/api/2.0/mlflow/runs/get?run_id=                    experiment, metrics
    GET {tracking}/model-versions/get-artifact?name=&version=&path=MLmodel

The last is the route MLflow's own UI downloads a model version's files through (it reads
the artifact store, proxied or not). MLflow keeps no digest of a model version's files, so
the model component's digest is the sha256 of its MLmodel file: the file every MLflow model
has, written when the model is saved, naming its flavors, signature, a `model_uuid` unique
to that save and its creation time. Two saves never share it; the same version always gives
it back. (Hashing every weight file would mean downloading the model.)

Failures are the HTTP backends' (releases/backends/http.py): 5xx, 408, 425, 429, timeouts
and unreachable servers are transient and retried by the task; other answers are permanent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import yaml

from releases.backends.base import BackendError
from releases.backends.http import MAX_MESSAGE_CHARS, HttpBackend

if TYPE_CHECKING:
    from releases.models import ModelFollow

API_PREFIX = "/api/2.0/mlflow/"
MLMODEL = "MLmodel"
MLMODEL_MAX_BYTES = 1_048_576  # an MLmodel is a few kB; anything bigger is not one
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ModelVersionFacts:
    """What MLflow says of a model version and the run that produced it."""

    name: str
    version: str
    source: str
    run_id: str
    run_url: str
    digest: str  # sha256 of the MLmodel file, hex
    flavors: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    description: str = ""


class Registry(HttpBackend):
    """Reads one MLflow tracking server, as the follow names it (with its Bearer token)."""

    name = peer = "MLflow"
    user_agent = "failsafe-intake/1"
    url_setting = "tracking URL"

    def __init__(self, follow: ModelFollow) -> None:  # not an environment's backend
        self.follow = follow
        self.config = {"tracking_uri": follow.tracking_uri}
        secrets = follow.secrets if isinstance(follow.secrets, dict) else {}
        self._secrets = secrets
        self.tracking_uri = self._http_url(
            "tracking_uri", must_be="an http(s) URL of a tracking server"
        ).rstrip("/")
        self.timeout = TIMEOUT_SECONDS
        self._token = self._bearer_token()

    def _misconfigured(self, problem: str) -> BackendError:
        return BackendError(f"The follow of {self.follow.model_name!r}: {problem}.")

    @property
    def peer_at(self) -> str:
        return f"MLflow at {self.tracking_uri}"

    # What the import asks

    def model_version_facts(self, name: str, version: str) -> ModelVersionFacts:
        found = self._call(
            "model-versions/get", {"name": name, "version": version},
            what=f"read of model {name!r} version {version}",
        )  # fmt: skip
        model_version = found.get("model_version")
        if not isinstance(model_version, dict):
            raise BackendError(f"MLflow's answer lacks model_version: {str(found)[:200]}")
        state = model_version.get("status", "READY")
        if state == "PENDING_REGISTRATION":
            raise BackendError(
                f"MLflow model {name!r} version {version} is still being registered.",
                transient=True,
            )
        if state != "READY":
            raise BackendError(
                f"MLflow model {name!r} version {version} is {state}, not READY: "
                f"{model_version.get('status_message') or 'no message'}"
            )
        run_id = str(model_version.get("run_id") or "")
        metrics: dict[str, float] = {}
        run_url = ""
        if run_id:
            run = self._call("runs/get", {"run_id": run_id}, what=f"read of run {run_id}")
            info = (run.get("run") or {}).get("info") or {}
            data = (run.get("run") or {}).get("data") or {}
            experiment = str(info.get("experiment_id") or "")
            run_url = f"{self.tracking_uri}/#/experiments/{quote(experiment)}/runs/{quote(run_id)}"
            for metric in data.get("metrics") or []:
                if isinstance(metric, dict) and isinstance(metric.get("key"), str):
                    value = metric.get("value")
                    if isinstance(value, int | float | str):
                        metrics[metric["key"]] = _number(value)
        mlmodel = self._mlmodel(name, version)
        return ModelVersionFacts(
            name=name,
            version=version,
            source=str(model_version.get("source") or ""),
            run_id=run_id,
            run_url=run_url,
            digest=hashlib.sha256(mlmodel).hexdigest(),
            flavors=_flavors(mlmodel),
            metrics=metrics,
            description=str(model_version.get("description") or ""),
        )

    def _mlmodel(self, name: str, version: str) -> bytes:
        what = f"download of model {name!r} version {version}'s {MLMODEL} file"
        response = self._request(
            "GET", f"{self.tracking_uri}/model-versions/get-artifact",
            params={"name": name, "version": version, "path": MLMODEL}, what=what,
        )  # fmt: skip
        if response.status_code == 404:
            raise BackendError(
                f"MLflow has no {MLMODEL} file for model {name!r} version {version}: its digest "
                "cannot be taken (was the model logged with mlflow.<flavor>.log_model?)."
            )
        self._raise_for_status(response, what=what)
        if len(response.content) > MLMODEL_MAX_BYTES:
            raise BackendError(f"The {MLMODEL} file of {name!r} version {version} is too big.")
        return response.content

    # HTTP

    def _call(self, endpoint: str, params: dict[str, str], *, what: str) -> dict[str, Any]:
        response = self._request("GET", self.tracking_uri + API_PREFIX + endpoint, params=params,
                                 what=what)  # fmt: skip
        return self._json_or_raise(response, what=what)

    def _error_message(self, payload: dict[str, Any]) -> str | None:
        if payload.get("error_code") or payload.get("message"):
            code = payload.get("error_code") or "ERROR"
            return f"{code}: {str(payload.get('message', ''))[:MAX_MESSAGE_CHARS]}"
        return None

    def _not_an_object_ending(self) -> str:
        return f"; is {self.tracking_uri} an MLflow tracking server?"


def _number(value: float | int | str) -> float:
    try:
        return float(value)  # MLflow writes NaN and ±Infinity as strings in JSON
    except ValueError:
        return float("nan")


def _flavors(mlmodel: bytes) -> list[str]:
    try:
        document = yaml.safe_load(mlmodel)
    except yaml.YAMLError:
        return []
    flavors = document.get("flavors") if isinstance(document, dict) else None
    return sorted(str(f) for f in flavors) if isinstance(flavors, dict) else []


def as_decimal(value: float) -> Decimal | None:
    """A metric as a gate check stores it (20 digits, 6 after the point), or None when it
    is not a finite number that fits."""
    try:
        number = Decimal(repr(value)).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 14:
        return None
    return number

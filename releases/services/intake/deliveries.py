"""A signed delivery from MLflow, recorded once; the import it starts, handed to the broker
after commit (and sent again by the sweep if nobody ran it); an alias moved, the
environments it serves reconciled."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import handoff
from governance import audit
from governance.limits import shorten
from releases import drift
from releases.models import (
    BackendType,
    DeliveryStatus,
    Environment,
    ImportStatus,
    ModelFollow,
    RegistryVersion,
    WebhookDelivery,
    WebhookSecret,
)
from releases.models.intake import DELIVERY_ID, MLFLOW_VERSION, MODEL_NAME

if TYPE_CHECKING:
    from governance.models import AISystem


# The events that bring a model version in: its creation, and a tag set on it (which also
# lets an owner re-send a version whose import failed: set any tag on it in MLflow).
IMPORTING_EVENTS = frozenset({"model_version.created", "model_version_tag.set"})


# Recorded (an alias moved: what serves may have changed) but importing nothing.
RECORDED_EVENTS = frozenset({"model_version_alias.created", "model_version_alias.deleted"})


_VERSION = re.compile(r"[1-9][0-9]{0,18}")


# --- deliveries ----------------------------------------------------------------------------


class DeliveryRefused(ValidationError):
    """A signed delivery that cannot be read (400)."""


def _event_of(payload: Any) -> tuple[str, str, str]:
    """(event, model name, version or "") of MLflow's envelope
    {"entity", "action", "timestamp", "data": {"name", "version", …}}."""
    if not isinstance(payload, dict):
        raise DeliveryRefused({"body": "MLflow's delivery is a JSON object."})
    entity, action, data = payload.get("entity"), payload.get("action"), payload.get("data")
    if not isinstance(entity, str) or not isinstance(action, str) or len(entity + action) > 38:
        raise DeliveryRefused({"entity": "MLflow's delivery names its entity and action."})
    if not isinstance(data, dict):
        raise DeliveryRefused({"data": "MLflow's delivery carries its data as an object."})
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MODEL_NAME:
        raise DeliveryRefused({"data.name": f"A model's name, at most {MODEL_NAME} characters."})
    version = data.get("version", "")
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or (version and not _VERSION.fullmatch(version)):
        raise DeliveryRefused({"data.version": "A model version is a number (1, 2, 3 …)."})
    return f"{entity}.{action}", name.strip(), version


@transaction.atomic
def receive_delivery(
    *, system: AISystem, secret: WebhookSecret, delivery_id: str, payload: Any
) -> tuple[WebhookDelivery | None, str]:
    """Record a delivery whose signature `secret` verified, once per delivery id, and
    schedule the import of the model version it announces. Returns the delivery (None when
    it concerns nothing the system follows) and what became of it, in words for MLflow."""
    event, model_name, version = _event_of(payload)
    if len(delivery_id) > DELIVERY_ID:
        raise DeliveryRefused({"delivery_id": "A delivery id is at most 64 characters."})
    follow = ModelFollow.objects.filter(system=system, model_name=model_name).first()
    concerns = event in IMPORTING_EVENTS | RECORDED_EVENTS
    # An alias moved: what serves may have changed. The environments serving that model's
    # alias through MLflow are reconciled at once (releases/drift/), followed or not.
    serving = _serving(system, model_name, payload) if event in RECORDED_EVENTS else []
    if (
        (follow is None and not serving)
        or not concerns
        or (event in IMPORTING_EVENTS and not version)
    ):
        why = "not followed" if follow is None else f"{event} imports nothing"
        return None, f"Ignored: {model_name} {why}."
    seen = WebhookDelivery.objects.filter(system=system, delivery_id=delivery_id).first()
    if seen is not None:
        return seen, "Replayed: this delivery was received before; nothing changed."
    registry_version = None
    status = DeliveryStatus.RECORDED
    if event in IMPORTING_EVENTS:
        registry_version, status = _version_to_import(system, model_name, version)
    try:
        with transaction.atomic():  # a twin delivery racing this one: one of them is kept
            delivery = WebhookDelivery.objects.create(
                system=system, delivery_id=delivery_id, secret=secret, event=event,
                model_name=model_name, model_version=version[:MLFLOW_VERSION],
                payload=_kept(payload), status=status,
            )  # fmt: skip
    except IntegrityError:
        seen = WebhookDelivery.objects.get(system=system, delivery_id=delivery_id)
        return seen, "Replayed: this delivery was received before; nothing changed."
    audit.record_event(
        actor=None, action="mlflow.delivery_received", obj=delivery, system=system,
        after={"delivery_id": delivery_id, "event": event, "model_name": model_name,
               "model_version": version, "status": status},
    )  # fmt: skip
    if status == DeliveryStatus.IMPORTING and registry_version is not None:
        pk = registry_version.pk
        transaction.on_commit(lambda: _send_import(pk))
        return delivery, f"Import of {model_name} version {version} scheduled."
    if status == DeliveryStatus.REPLAYED:
        return delivery, f"{model_name} version {version} was imported before."
    if serving:
        transaction.on_commit(lambda: drift.schedule_reconcile(serving))
        return delivery, (
            f"Recorded {event} of {model_name}; reconcile of {len(serving)} environment"
            f"{'s' if len(serving) > 1 else ''} scheduled."
        )
    return delivery, f"Recorded {event} of {model_name}."


def _serving(system: AISystem, model_name: str, payload: dict[str, Any]) -> list[int]:
    """The system's MLflow environments that serve `model_name` (through the delivery's
    alias, when it names one)."""
    environments = Environment.objects.filter(
        system=system, backend_type=BackendType.MLFLOW, backend_config__model_name=model_name
    )
    alias = (payload.get("data") or {}).get("alias")
    if isinstance(alias, str) and alias:
        environments = environments.filter(backend_config__alias=alias)
    return list(environments.values_list("pk", flat=True))


def _version_to_import(
    system: AISystem, model_name: str, version: str
) -> tuple[RegistryVersion, DeliveryStatus]:
    """The version's import row, made pending unless it was imported already."""
    try:
        with transaction.atomic():
            found, _ = RegistryVersion.objects.get_or_create(
                system=system, model_name=model_name, version=version
            )
    except IntegrityError:  # another delivery of the same version made it just now
        found = RegistryVersion.objects.get(system=system, model_name=model_name, version=version)
    found = RegistryVersion.objects.select_for_update(no_key=True).get(pk=found.pk)
    if found.status == ImportStatus.IMPORTED:
        return found, DeliveryStatus.REPLAYED
    if found.status == ImportStatus.FAILED:  # sent again: tried again
        found.status, found.error = ImportStatus.PENDING, ""
        found.save(update_fields=["status", "error", "updated_at"])
    return found, DeliveryStatus.IMPORTING


def _kept(payload: dict[str, Any]) -> dict[str, Any]:
    """The delivery as kept: MLflow's envelope, its data's small fields (tags and
    descriptions can be long; MLflow keeps them)."""
    data = payload.get("data") or {}
    return {
        "entity": payload.get("entity"),
        "action": payload.get("action"),
        "timestamp": str(payload.get("timestamp", ""))[:40],
        "data": {
            k: shorten(str(v), 500)
            for k, v in data.items()
            if k in ("name", "version", "source", "run_id", "alias", "key", "value")
        },
    }


def _send_import(registry_version_id: int) -> None:
    """From this process's sending thread (config.handoff): the webhook answers MLflow
    whatever the broker does; an import the broker never got, the sweep sends again."""
    from releases.tasks import import_model_version as task

    handoff.send(task, (registry_version_id,), label=f"model version import {registry_version_id}")


def sweep_imports() -> int:
    """Send again the imports still pending `IMPORT_REQUEUE_SECONDS` after their last change
    (the broker was down when the delivery came, or a worker died holding the task); the
    import is idempotent, so one sent twice registers one draft. Returns how many."""
    since = timezone.now() - timedelta(seconds=settings.IMPORT_REQUEUE_SECONDS)
    stale = list(
        RegistryVersion.objects.filter(status=ImportStatus.PENDING, updated_at__lt=since)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:100]
    )
    for pk in stale:
        _send_import(pk)
    return len(stale)

"""Registry intake: webhook secrets, followed models, deliveries and imports.

Owners (Action.CHANGE) create and revoke a system's webhook secrets and choose the MLflow
registered models it follows. A signed delivery about a followed model is recorded once
(`receive_delivery`); a new model version is imported once (`import_model_version`, run by
a Celery task after commit) as a draft release with the run's metrics as gate checks.

Who acts: the secrets and follows are changed by a person; deliveries and imports by the
machine, on the word of a verified signature and of the follow an owner set up. Their
audit events have no actor (the trail says "system") and name the credential: the webhook
secret that signed the delivery ("MLflow webhook secret fsw_ab12cd… registry"), or the
import ("MLflow intake fraud-gbm v3"), as alert-driven incidents name their alert token.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import handoff
from governance import audit
from governance.audit.context import acting_as
from governance.limits import ERROR, shorten
from governance.permissions import require
from governance.roles import Action
from governance.tokens import ShownOnce, new_secret, prefix_of
from governance.validators import check_value
from releases import drift
from releases.intake import prefill
from releases.intake.registry import ModelVersionFacts, Registry, as_decimal
from releases.models import (
    BackendType,
    Comparison,
    DeliveryStatus,
    Environment,
    GateCheck,
    GateCriterion,
    ImportStatus,
    ModelFollow,
    RegistryVersion,
    WebhookDelivery,
    WebhookSecret,
)
from releases.models.intake import DELIVERY_ID, MLFLOW_VERSION, MODEL_NAME
from releases.services.gates import record_gate_check
from releases.services.registration import register_draft

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

WEBHOOK_SECRET_KIND = "fsw_"  # Failsafe webhook: a scanner can tell what it is
SECRET_NAME = WebhookSecret._meta.get_field("name").max_length or 80

# The events that bring a model version in: its creation, and a tag set on it (which also
# lets an owner re-send a version whose import failed: set any tag on it in MLflow).
IMPORTING_EVENTS = frozenset({"model_version.created", "model_version_tag.set"})
# Recorded (an alias moved: what serves may have changed) but importing nothing.
RECORDED_EVENTS = frozenset({"model_version_alias.created", "model_version_alias.deleted"})

MAX_MAPPED_METRICS = 50
METRIC_KEY = 250  # MLflow's own limit on a metric's key
NUMERIC = (Comparison.GTE, Comparison.LTE, Comparison.GT, Comparison.LT)
# A drill proves the rollback path; a number from a training run never does.
MAPPABLE_CRITERIA = [c for c in GateCriterion if c != GateCriterion.ROLLBACK_READY]
_VERSION = re.compile(r"[1-9][0-9]{0,18}")


# --- webhook secrets ---------------------------------------------------------------------


@transaction.atomic
def create_webhook_secret(
    *, actor: User, system: AISystem, name: str
) -> tuple[WebhookSecret, ShownOnce]:
    """A new signing secret for the system's MLflow webhook; returned here and never again."""
    require(actor, Action.CHANGE, system)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the secret after what uses it, e.g. MLflow prod."})
    check_value(WebhookSecret, "name", name)
    secret = new_secret(WEBHOOK_SECRET_KIND)
    webhook_secret = WebhookSecret.objects.create(
        system=system,
        name=name,
        prefix=prefix_of(secret),
        sealed={"secret": str(secret)},
        created_by=actor,
    )
    audit.record_event(
        actor=actor, action="webhook_secret.created", obj=webhook_secret, system=system,
        after={"name": webhook_secret.name, "prefix": webhook_secret.prefix},
    )  # fmt: skip
    return webhook_secret, secret


@transaction.atomic
def revoke_webhook_secret(*, actor: User, secret: WebhookSecret) -> WebhookSecret:
    """Deliveries signed with it are refused from now on; revoking is for good."""
    require(actor, Action.CHANGE, secret.system)
    secret = WebhookSecret.objects.select_for_update(no_key=True, of=("self",)).get(pk=secret.pk)
    if secret.revoked_at is not None:
        raise ValidationError("The secret is already revoked.")
    secret.revoked_at = timezone.now()
    secret.sealed = {}  # nothing left to verify with: the secret itself is gone
    secret.save(update_fields=["revoked_at", "sealed"])
    audit.record_event(
        actor=actor, action="webhook_secret.revoked", obj=secret, system=secret.system,
        after={"name": secret.name, "prefix": secret.prefix},
    )  # fmt: skip
    return secret


# --- follows -------------------------------------------------------------------------------


def _clean_model_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"model_name": "Name the registered model, as MLflow spells it."})
    check_value(ModelFollow, "model_name", name)
    if "/" in name or "@" in name:
        # models:/<name>/<version> would not say which model is meant.
        raise ValidationError({"model_name": "A registered model's name has no / or @."})
    return name


def clean_metric_criteria(value: Any) -> dict[str, dict[str, str]]:
    """{metric: {"criterion", "comparison", "target"}}: each metric a key MLflow could log,
    each criterion one a number can evidence, at most once, each target a number that fits."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"metric_criteria": "A JSON object: metric → criterion."})
    if len(value) > MAX_MAPPED_METRICS:
        raise ValidationError({"metric_criteria": f"{MAX_MAPPED_METRICS} metrics at most."})
    cleaned: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    taken: dict[str, str] = {}
    for metric, rule in value.items():
        if not isinstance(metric, str) or not metric.strip() or len(metric) > METRIC_KEY:
            errors.append(f"{str(metric)[:40]!r}: a metric's name, 1 to {METRIC_KEY} characters.")
            continue
        if not isinstance(rule, dict) or set(rule) - {"criterion", "comparison", "target"}:
            errors.append(f"{metric}: give criterion, comparison and target, nothing else.")
            continue
        criterion, comparison = rule.get("criterion"), rule.get("comparison")
        if criterion not in [c.value for c in MAPPABLE_CRITERIA]:
            errors.append(
                f"{metric}: criterion is one of {', '.join(c.value for c in MAPPABLE_CRITERIA)}."
            )
            continue
        if criterion in taken:
            errors.append(
                f"{metric}: {criterion} is already evidenced by {taken[criterion]} (the latest "
                "check of a criterion is the one in force: one metric per criterion)."
            )
            continue
        if comparison not in NUMERIC:
            errors.append(f"{metric}: comparison is one of gte, lte, gt, lt.")
            continue
        target = rule.get("target")
        number = None
        if isinstance(target, int | float | str) and not isinstance(target, bool):
            try:
                number = Decimal(str(target))
            except InvalidOperation:
                number = None
        if number is None or as_decimal(float(number)) is None:
            errors.append(f"{metric}: target is a number (at most 14 digits before the point).")
            continue
        taken[criterion] = metric
        cleaned[metric.strip()] = {
            "criterion": criterion,
            "comparison": comparison,
            "target": str(as_decimal(float(number)).normalize()),  # type: ignore[union-attr]
        }
    if errors:
        raise ValidationError({"metric_criteria": errors})
    return cleaned


def _clean_token(token: str) -> str:
    token = token.strip()
    if len(token) > 4000 or not token.isprintable():
        raise ValidationError({"token": "A bearer token: printable, at most 4000 characters."})
    return token


def _follow_state(follow: ModelFollow) -> dict[str, Any]:
    return {
        "model_name": follow.model_name,
        "tracking_uri": follow.tracking_uri,
        "metric_criteria": follow.metric_criteria,
        "token": "set" if follow.has_token else None,  # never the token itself
    }


@transaction.atomic
def follow_model(
    *,
    actor: User,
    system: AISystem,
    model_name: str,
    tracking_uri: str,
    metric_criteria: Any = None,
    token: str = "",
) -> ModelFollow:
    """The system follows a registered model: its new versions become draft releases."""
    require(actor, Action.CHANGE, system)
    model_name = _clean_model_name(model_name)
    tracking_uri = tracking_uri.strip().rstrip("/")
    check_value(ModelFollow, "tracking_uri", tracking_uri)
    criteria = clean_metric_criteria(metric_criteria)
    token = _clean_token(token)
    if ModelFollow.objects.filter(system=system, model_name=model_name).exists():
        raise ValidationError({"model_name": f"{system.name} already follows {model_name}."})
    follow = ModelFollow.objects.create(
        system=system, model_name=model_name, tracking_uri=tracking_uri,
        metric_criteria=criteria, secrets={"token": token} if token else {}, created_by=actor,
    )  # fmt: skip
    audit.record_event(
        actor=actor, action="model_follow.created", obj=follow, system=system,
        after=_follow_state(follow),
    )  # fmt: skip
    return follow


@transaction.atomic
def update_follow(
    *,
    actor: User,
    follow: ModelFollow,
    tracking_uri: str,
    metric_criteria: Any = None,
    token: str | None = None,
) -> ModelFollow:
    """Change where runs are read and how metrics map; `token` None keeps the stored one,
    "" removes it."""
    require(actor, Action.CHANGE, follow.system)
    follow = (
        ModelFollow.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=follow.pk)
    )
    tracking_uri = tracking_uri.strip().rstrip("/")
    check_value(ModelFollow, "tracking_uri", tracking_uri)
    criteria = clean_metric_criteria(metric_criteria)
    before = _follow_state(follow)
    follow.tracking_uri, follow.metric_criteria = tracking_uri, criteria
    if token is not None:
        token = _clean_token(token)
        follow.secrets = {"token": token} if token else {}
    follow.save()
    after = _follow_state(follow)
    if token:
        after["token"] = "replaced"
    if after != before:
        audit.record_event(
            actor=actor, action="model_follow.updated", obj=follow, system=follow.system,
            before=before, after=after,
        )  # fmt: skip
    return follow


@transaction.atomic
def unfollow_model(*, actor: User, follow: ModelFollow) -> None:
    """New versions of the model stop arriving; what it brought in stays."""
    require(actor, Action.CHANGE, follow.system)
    follow = (
        ModelFollow.objects.select_for_update(of=("self",))
        .select_related("system")
        .get(pk=follow.pk)
    )
    audit.record_event(
        actor=actor, action="model_follow.deleted", obj=follow, system=follow.system,
        before=_follow_state(follow),
    )  # fmt: skip
    follow.delete()


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


# --- imports -------------------------------------------------------------------------------


class ImportRefused(Exception):
    """A permanent reason the version cannot become a draft (the import is marked failed)."""


def import_model_version(*, registry_version_id: int) -> RegistryVersion:
    """Read the version and its run from MLflow and register the draft with its gate
    evidence, once: a second call for an imported version changes nothing. MLflow's
    transient failures raise BackendError (transient) for the task to retry; anything
    permanent marks the import failed, with why, and returns it."""
    found = RegistryVersion.objects.select_related("system").get(pk=registry_version_id)
    if found.status == ImportStatus.IMPORTED:
        return found
    system, name, version = found.system, found.model_name, found.version
    with acting_as(f"MLflow intake {name} v{version}"):
        follow = ModelFollow.objects.filter(system=system, model_name=name).first()
        if follow is None:
            return fail_import(
                registry_version_id=found.pk, error=f"{system.name} no longer follows {name}."
            )
        facts = Registry(follow).model_version_facts(name, version)  # BackendError: the task's
        try:
            return _register(found.pk, follow, facts)
        except (ImportRefused, ValidationError, prefill.NoBase) as refused:
            error = (
                "; ".join(refused.messages)
                if isinstance(refused, ValidationError)
                else str(refused)
            )
            return fail_import(registry_version_id=found.pk, error=error)


@transaction.atomic
def _register(pk: int, follow: ModelFollow, facts: ModelVersionFacts) -> RegistryVersion:
    # Two imports of one version at once (a redelivered task): the second waits, then sees
    # the first one's release and changes nothing.
    found = (
        RegistryVersion.objects.select_for_update(no_key=True).select_related("system").get(pk=pk)
    )
    if found.status == ImportStatus.IMPORTED:
        return found
    system = found.system
    draft = prefill.draft_for(system, facts)
    release = register_draft(
        author=None, system=system, version=draft.version, title=draft.title, card=draft.card,
        components=draft.components, change_categories=draft.change_categories,
        provenance={"mlflow_model": facts.name, "mlflow_version": facts.version,
                    "run_id": facts.run_id, "base": draft.base.version,
                    "base_was": draft.base_where},
    )  # fmt: skip
    found.release = release
    found.status = ImportStatus.IMPORTED
    found.source = shorten(facts.source, 500)
    found.run_id = facts.run_id[:64]
    found.run_url = facts.run_url if len(facts.run_url) <= 500 else ""
    found.digest_source = "sha256 of the MLmodel file"
    found.flavors = facts.flavors
    found.metrics = {k: _json_number(v) for k, v in facts.metrics.items()}
    found.error = ""
    found.attempts += 1
    found.save()
    evidence = found.run_url or follow.tracking_uri
    checks: list[GateCheck] = []
    unmapped: dict[str, Any] = {}
    for metric, value in sorted(facts.metrics.items()):
        rule = (
            follow.metric_criteria.get(metric) if isinstance(follow.metric_criteria, dict) else None
        )
        measured = as_decimal(value)
        if not rule or measured is None:
            unmapped[metric] = _json_number(value)
            continue
        note = f"MLflow metric {metric} of run {facts.run_id or '(none)'}, model {facts.name} "
        check = record_gate_check(
            actor=None, release=release, criterion=rule["criterion"],
            comparison=rule["comparison"], measured_value=measured,
            target=Decimal(rule["target"]), evidence_uri=evidence,
            note=shorten(note + f"version {facts.version}.", 2000),
        )  # fmt: skip
        checks.append(check)
    found.unmapped_metrics = unmapped
    found.save(update_fields=["unmapped_metrics", "updated_at"])
    audit.record_event(
        actor=None, action="mlflow.version_imported", obj=found, system=system,
        after={"model_name": facts.name, "model_version": facts.version,
               "release": release.version, "base": draft.base.version,
               "model_digest": facts.digest, "gate_checks": [c.criterion for c in checks],
               "unmapped_metrics": sorted(unmapped)},
    )  # fmt: skip
    return found


def _json_number(value: float) -> float | str:
    return value if value == value and abs(value) != float("inf") else str(value)


@transaction.atomic
def fail_import(*, registry_version_id: int, error: str) -> RegistryVersion:
    """The import gave up: why, for the owners on the intake page; a new delivery of the
    same version (a tag set on it in MLflow) tries again."""
    found = (
        RegistryVersion.objects.select_for_update(no_key=True)
        .select_related("system")
        .get(pk=registry_version_id)
    )
    if found.status == ImportStatus.IMPORTED:
        return found
    found.status = ImportStatus.FAILED
    found.error = shorten(error, ERROR)
    found.attempts += 1
    found.save(update_fields=["status", "error", "attempts", "updated_at"])
    audit.record_event(
        actor=None, action="mlflow.import_failed", obj=found, system=found.system,
        after={"model_name": found.model_name, "model_version": found.version,
               "error": found.error},
    )  # fmt: skip
    return found

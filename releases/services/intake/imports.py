"""A followed model's new version imported from MLflow, once, as a draft release with its
run's metrics as gate evidence."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from governance import audit
from governance.audit.context import acting_as
from governance.limits import ERROR, shorten
from releases.intake import prefill
from releases.intake.registry import ModelVersionFacts, Registry, as_decimal
from releases.models import (
    GateCheck,
    ImportStatus,
    ModelFollow,
    RegistryVersion,
)
from releases.services.gates import record_gate_check
from releases.services.registration import register_draft

if TYPE_CHECKING:
    pass


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

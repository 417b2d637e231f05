"""The MLflow registered models a system follows, and how their runs' metrics map to gate
criteria."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from governance import audit
from governance.permissions import require
from governance.roles import Action
from governance.validators import check_value
from releases.intake.registry import as_decimal
from releases.models import (
    Comparison,
    GateCriterion,
    ModelFollow,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem


MAX_MAPPED_METRICS = 50


METRIC_KEY = 250  # MLflow's own limit on a metric's key


NUMERIC = (Comparison.GTE, Comparison.LTE, Comparison.GT, Comparison.LT)


# A drill proves the rollback path; a number from a training run never does.
MAPPABLE_CRITERIA = [c for c in GateCriterion if c != GateCriterion.ROLLBACK_READY]


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

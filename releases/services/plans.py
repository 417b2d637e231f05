"""Writing the rollback plan: written before release, frozen with it at submission."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from governance import audit
from governance.limits import QUERY, shorten
from governance.models import RoleGrant
from governance.permissions import require
from governance.roles import Action, Role
from releases.models import (
    Comparison,
    Deployment,
    Environment,
    Release,
    ReleaseStatus,
    RollbackMode,
    RollbackPlan,
    RollbackTrigger,
)
from releases.queries import live_release

if TYPE_CHECKING:
    from django.contrib.auth.models import User

THRESHOLD_BOUND = Decimal(10) ** 14
TRIGGER_COMPARISONS = (Comparison.GT, Comparison.GTE, Comparison.LT, Comparison.LTE)


def eligible_rollback_owners(release: Release) -> set[int]:
    """Ids of the users holding the rollback-owner role on the system, directly or by group."""
    grants = RoleGrant.objects.filter(system=release.system, role=Role.ROLLBACK_OWNER)
    direct = set(grants.filter(user__isnull=False).values_list("user_id", flat=True))
    via_groups = set(grants.filter(group__isnull=False).values_list("group__user", flat=True))
    return direct | {pk for pk in via_groups if pk is not None}


def rollback_targets(release: Release) -> list[tuple[Environment, list[tuple[Release, bool]]]]:
    """What the plan may roll back to, by environment: each release live there now or
    before (newest first, with whether it is live now), but a release that was rolled back
    and `release` itself. One query."""
    periods = (
        Deployment.objects.filter(environment__system_id=release.system_id)
        .exclude(release=release)
        .exclude(release__status=ReleaseStatus.ROLLED_BACK)
        .select_related("environment", "release")
        .order_by("environment__position", "environment__name", "-started_at", "-id")
    )
    by_environment: dict[int, tuple[Environment, list[tuple[Release, bool]]]] = {}
    for period in periods:
        _, targets = by_environment.setdefault(period.environment_id, (period.environment, []))
        if all(target.pk != period.release_id for target, _ in targets):
            targets.append((period.release, period.ended_at is None))
    return list(by_environment.values())


def is_rollback_target(release: Release, environment: Environment, target: Release) -> bool:
    """Whether `target` may be the plan's target in `environment`: see rollback_targets."""
    return (
        target.pk != release.pk
        and target.system_id == release.system_id
        and target.status != ReleaseStatus.ROLLED_BACK
        and Deployment.objects.filter(environment=environment, release=target).exists()
    )


def _clean_triggers(triggers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned, errors = [], []
    for n, trigger in enumerate(triggers, start=1):
        query = str(trigger.get("query") or "").strip()
        # A PromQL trigger is named by its metric if given, else by its query.
        metric = str(trigger.get("metric") or "").strip() or shorten(" ".join(query.split()), 120)
        if "\x00" in query or "\x00" in metric:
            errors.append(f"Trigger {n}: no NUL characters.")
        if len(query) > QUERY:
            errors.append(f"Trigger {n}: the PromQL query is at most {QUERY} characters.")
        if len(metric) > 120:
            errors.append(f"Trigger {n}: the metric's name is at most 120 characters.")
        comparison = trigger.get("comparison")
        try:
            threshold = Decimal(str(trigger.get("threshold")))
            window = int(trigger.get("window_minutes", 0))
        except (ArithmeticError, TypeError, ValueError):
            errors.append(f"Trigger {n}: the threshold and the window must be numbers.")
            continue
        if not metric:
            errors.append(f"Trigger {n}: name the metric.")
        if comparison not in TRIGGER_COMPARISONS:
            errors.append(f"Trigger {n}: choose a comparison (>, ≥, <, ≤).")
        if not 1 <= window <= 24 * 60:
            errors.append(f"Trigger {n}: the window is between 1 minute and 24 hours.")
        if not threshold.is_finite():
            errors.append(f"Trigger {n}: the threshold must be a finite number.")
        elif abs(threshold) >= THRESHOLD_BOUND or threshold != threshold.quantize(
            Decimal("0.000001")
        ):
            # The column holds 14 digits before the point and 6 after (numeric(20, 6)).
            errors.append(
                f"Trigger {n}: the threshold has at most 14 digits before the decimal point "
                "and 6 after it."
            )
        cleaned.append({"metric": metric, "query": query, "comparison": comparison,
                        "threshold": threshold, "window_minutes": window})  # fmt: skip
    if errors:
        raise ValidationError({"triggers": errors})
    return cleaned


@transaction.atomic
def save_rollback_plan(
    *,
    actor: User,
    release: Release,
    environment: Environment,
    owners: Iterable[User],
    mode: str,
    cooldown_minutes: int,
    triggers: Iterable[dict[str, Any]],
    target_release: Release | None = None,
    advance_on_analysis: bool = False,
) -> RollbackPlan:
    """Create or replace the draft release's rollback plan.

    The target defaults to the release live in that environment now: the last known-good.
    A trigger with a `query` is PromQL, asked of the environment's Prometheus, which must be
    configured. `advance_on_analysis`: a rollout stage whose analysis passes moves on to
    the next stage by itself.
    """
    release = (
        Release.objects.select_for_update(no_key=True, of=("self",))
        .select_related("system")
        .get(pk=release.pk)
    )
    require(actor, Action.REGISTER_RELEASE, release.system)
    if release.is_frozen:
        raise ValidationError("The rollback plan is frozen with the release once it is submitted.")
    errors: dict[str, Any] = {}
    if environment.system_id != release.system_id:
        errors["environment"] = "Choose an environment of this system."
    owners = list(owners)
    eligible = eligible_rollback_owners(release)
    if not owners:
        errors["owners"] = "Name at least one rollback owner."
    elif any(owner.pk not in eligible for owner in owners):
        errors["owners"] = "Rollback owners must hold the rollback-owner role on this system."
    if mode not in RollbackMode.values:
        errors["mode"] = f"Unknown mode {mode!r}."
    if not 0 <= cooldown_minutes <= 7 * 24 * 60:
        errors["cooldown_minutes"] = "The cooldown is between 0 minutes and a week."
    if target_release is None and not errors:
        target_release = live_release(environment)
    if target_release is not None and not is_rollback_target(release, environment, target_release):
        errors["target_release"] = (
            f"The target must be a release live in {environment.name} now or before, and not "
            f"rolled back; {target_release.version} is not."
        )
    if errors:
        raise ValidationError(errors)
    cleaned_triggers = _clean_triggers(triggers)
    if any(t["query"] for t in cleaned_triggers) and not environment.prometheus_url:
        raise ValidationError(
            {
                "triggers": f"PromQL triggers ask {environment.name}'s Prometheus: set its "
                "Prometheus URL on the environments page first."
            }
        )

    plan = RollbackPlan.objects.filter(release=release).select_related("release").first()
    before = plan_state(plan) if plan else None
    if plan is None:
        plan = RollbackPlan(release=release)
    plan.environment, plan.target_release = environment, target_release
    plan.mode, plan.cooldown_minutes, plan.written_by = mode, cooldown_minutes, actor
    plan.advance_on_analysis = bool(advance_on_analysis)
    plan.save()
    plan.owners.set(owners)
    plan.triggers.all().delete()
    RollbackTrigger.objects.bulk_create(RollbackTrigger(plan=plan, **t) for t in cleaned_triggers)
    audit.record_event(
        actor=actor, action="rollback_plan.saved", obj=plan, system=release.system,
        before=before, after=plan_state(plan),
    )  # fmt: skip
    return plan


def plan_state(plan: RollbackPlan) -> dict[str, Any]:
    return {
        "release": plan.release_id,
        "environment": plan.environment.slug,
        "target_release": plan.target_release.version if plan.target_release else None,
        "owners": sorted(owner.username for owner in plan.owners.all()),  # prefetched or not
        "mode": plan.mode,
        "cooldown_minutes": plan.cooldown_minutes,
        "advance_on_analysis": plan.advance_on_analysis,
        "triggers": [str(t) for t in plan.triggers.all()],
    }

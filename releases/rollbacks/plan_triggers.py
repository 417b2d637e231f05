"""What the rollback plan does when one of its triggers held for its whole window: the one
path shared by the alert-driven triggers (incidents.services.triggers), the PromQL triggers
(releases.services.promql_triggers) and a stage analysis that failed
(releases.services.analysis).

Debounce is the caller's (`held_for`: the condition held since a time at least the window
ago). Then, here: the plan's mode (*manual* does nothing), the cooldown (no second
plan-initiated rollback of the environment within the plan's cooldown, nor while one is
waiting or running), and the ask: a proposal a rollback owner confirms (*auto-propose*) or
the rollback itself (*automatic*), through the press (`request_rollback`), the evidence
travelling with the request.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import DurationField, Exists, ExpressionWrapper, Q, Value
from django.db.models.expressions import Combinable

from releases import rollback_hooks
from releases.models import Environment, RollbackMode, RollbackPlan, RollbackRequest, RollbackStatus
from releases.rollbacks.press import request_rollback

logger = logging.getLogger(__name__)

# A trigger's comparison of a value with its threshold ("value > threshold" for "gt").
HOLDS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}

# (reason, trigger, propose) -> (request, created): the press, or a caller's wrapper of it
# (an incident's, which links the request to the incident and its timeline).
Ask = Callable[..., tuple[RollbackRequest, bool]]


def held_for(since: datetime, window_minutes: int, now: datetime) -> bool:
    """Debounce: has a condition true since `since` held for the whole window by `now`?"""
    return now - since >= timedelta(minutes=window_minutes)


def cooling(environment: Environment, cooldown_minutes: Combinable | int, now: datetime) -> Exists:
    """Did a plan ask for a rollback of the environment within `cooldown_minutes`, or is one
    it asked for still waiting or running? An expression, so that a query reading the plan
    anyway asks it too, `cooldown_minutes` then being the plan's column (`OuterRef`)."""
    cooldown = ExpressionWrapper(
        Value(timedelta(minutes=1)) * cooldown_minutes, output_field=DurationField()
    )
    return Exists(
        RollbackRequest.objects.filter(
            Q(requested_at__gte=Value(now) - cooldown) | Q(status__in=RollbackStatus.active()),
            environment=environment,
            requested_by__isnull=True,
        )
    )


def in_cooldown(plan: RollbackPlan, environment: Environment, now: datetime) -> bool:
    """`cooling`, asked on its own."""
    return bool(
        RollbackPlan.objects.filter(pk=plan.pk)
        .values_list(cooling(environment, plan.cooldown_minutes, now), flat=True)
        .get()
    )


def act_on_held_trigger(
    *,
    plan: RollbackPlan,
    environment: Environment,
    evidence: dict[str, Any],
    reason: str,
    now: datetime,
    ask: Ask | None = None,
    title: str = "",
    cooling_now: bool | None = None,
) -> RollbackRequest | None:
    """Propose or request the rollback the plan calls for, if its mode and cooldown let it.

    `ask` defaults to the press on the environment, the new request linked to where people
    watch it (`rollback_hooks.host_for`: the environment's open incident, or one declared
    with `title`); the request it returns, else None (the mode is manual, the cooldown
    holds, or there is nothing to roll back to). `cooling_now` is `cooling`, if the caller
    read it with the plan."""
    if plan.mode == RollbackMode.MANUAL:
        return None
    if cooling_now is None:
        cooling_now = in_cooldown(plan, environment, now)
    if cooling_now:
        return None  # cooldown (or one is already waiting): no flapping
    if ask is None:

        def ask(**kwargs: Any) -> tuple[RollbackRequest, bool]:
            attach = rollback_hooks.host_for(environment, title or reason, reason)
            return request_rollback(actor=None, environment=environment, attach=attach, **kwargs)

    try:
        request, _ = ask(
            reason=reason, trigger=evidence, propose=plan.mode == RollbackMode.AUTO_PROPOSE
        )
    except ValidationError as error:  # e.g. nothing to roll back to: say so, stop there
        logger.info("trigger held in %s but no rollback: %s", environment, error)
        return None
    return request

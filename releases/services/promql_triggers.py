"""The rollback plan's PromQL triggers: asked of the environment's Prometheus by beat.

A trigger with a query is in force while its plan's release is live in the plan's
environment. Each evaluation asks Prometheus once (bounded: releases.analysis.prometheus)
and keeps what it found on the trigger:

- a value on the wrong side of the threshold starts the window (`holding_since`), or keeps
  it going; once it has held for the whole window (Prometheus' own `for`), the trigger
  **fires**: the plan's one answer to any trigger (releases.rollbacks.plan_triggers: mode,
  cooldown, the press) decides what happens, and the firing is audited with the query, the
  value, the time and what the plan did;
- a value on the good side clears it;
- no data (Prometheus dead, hung, slow, an empty answer, NaN) or an error (Prometheus
  refused the query) clears it too: the condition is known to hold only while Prometheus
  says so, so a gap in the answers starts the window again. Never a pass, never a firing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from governance import audit
from governance.limits import ERROR, shorten
from releases.analysis import prometheus
from releases.models import Deployment, RollbackRequest, RollbackTrigger, TriggerOutcome
from releases.rollbacks.plan_triggers import HOLDS, act_on_held_trigger, held_for


def triggers_in_force() -> list[int]:
    """Ids of the PromQL triggers whose plan's release is live in the plan's environment."""
    live = Deployment.objects.filter(
        ended_at__isnull=True,
        release=OuterRef("plan__release"),
        environment=OuterRef("plan__environment"),
    )
    return list(
        RollbackTrigger.objects.exclude(query="")
        .filter(Exists(live))
        .order_by("id")
        .values_list("id", flat=True)
    )


def evaluate_promql_triggers(now: datetime | None = None) -> int:
    """Evaluate every trigger in force, one after another (beat sends one task per trigger
    instead, so that one hung Prometheus holds up no other). Returns how many fired."""
    return sum(
        evaluate_promql_trigger(trigger_id=pk, now=now) == TriggerOutcome.FIRED
        for pk in triggers_in_force()
    )


def evaluate_promql_trigger(*, trigger_id: int, now: datetime | None = None) -> str:
    """Ask Prometheus once and act on the answer; the outcome (TriggerOutcome)."""
    trigger = (
        RollbackTrigger.objects.select_related("plan__release__system", "plan__environment__system")
        .filter(pk=trigger_id)
        .first()
    )
    if trigger is None or not trigger.is_promql:
        return ""
    # The question goes out with no transaction open: a hung Prometheus holds no lock.
    reading = prometheus.read(trigger.plan.environment, trigger.query)
    return _record(trigger_id, reading, now or timezone.now())


@transaction.atomic
def _record(trigger_id: int, reading: prometheus.Reading, now: datetime) -> str:
    # Two evaluations of one trigger at once (a slow one overtaken by the next beat) take
    # turns on the row, so one window and one firing come of them.
    trigger = (
        RollbackTrigger.objects.select_for_update(no_key=True, of=("self",))
        .select_related("plan__release__system", "plan__environment__system")
        .get(pk=trigger_id)
    )
    plan, environment = trigger.plan, trigger.plan.environment
    previous = trigger.last_outcome
    trigger.evaluated_at, trigger.last_value = now, reading.raw
    trigger.last_error = shorten(reading.message, ERROR)
    if reading.value is None:
        trigger.holding_since = None
        kind = (
            TriggerOutcome.NO_DATA if reading.kind == prometheus.NO_DATA else TriggerOutcome.ERROR
        )
        trigger.last_outcome = kind
    elif not HOLDS[trigger.comparison](reading.value, trigger.threshold):
        trigger.holding_since, trigger.last_outcome = None, TriggerOutcome.CLEAR
    else:
        trigger.holding_since = trigger.holding_since or now
        trigger.last_outcome = TriggerOutcome.HOLDING
    fired = trigger.holding_since is not None and held_for(
        trigger.holding_since, trigger.window_minutes, now
    )
    request: RollbackRequest | None = None
    if fired:
        trigger.last_outcome = TriggerOutcome.FIRED
        evidence = _evidence(trigger, reading, now)
        request = act_on_held_trigger(
            plan=plan,
            environment=environment,
            evidence=evidence,
            reason=(
                f"The rollback plan's trigger held: {evidence['metric']} "
                f"{evidence['comparison']} {evidence['threshold']} for "
                f"{evidence['window_minutes']} min (value {evidence['value']}, PromQL "
                f"{shorten(trigger.query, 300)})."
            ),
            now=now,
            title=f"{shorten(trigger.metric, 80)} {evidence['comparison']} "
            f"{evidence['threshold']} for {trigger.window_minutes} min in {environment.name}",
        )
    trigger.save(
        update_fields=["evaluated_at", "last_value", "last_error", "holding_since", "last_outcome"]
    )
    # A firing is audited when the window first completes, and whenever the plan asks
    # again (after its cooldown); evaluations in between are on the trigger only.
    if fired and (previous != TriggerOutcome.FIRED or request is not None):
        audit.record_event(
            actor=None,
            action="rollback_trigger.fired",
            obj=trigger,
            system=plan.release.system,
            after={
                **_evidence(trigger, reading, now),
                "rollback": request.pk if request is not None else None,
                "rollback_status": request.status if request is not None else None,
            },
        )
    return trigger.last_outcome


def _evidence(
    trigger: RollbackTrigger, reading: prometheus.Reading, now: datetime
) -> dict[str, Any]:
    return {
        "source": "promql",
        "trigger": trigger.pk,
        "metric": trigger.metric,
        "query": trigger.query,
        "comparison": trigger.get_comparison_display(),
        "threshold": f"{trigger.threshold.normalize():f}",
        "window_minutes": trigger.window_minutes,
        "value": reading.raw,
        "evaluated_at": now.isoformat(),
        "holding_since": trigger.holding_since.isoformat() if trigger.holding_since else None,
        "prometheus": trigger.plan.environment.prometheus_url,
        "plan": trigger.plan_id,
        "mode": trigger.plan.mode,
    }

"""The rollback plan's triggers, evaluated against the alerts of an open incident.

An alert speaks for a trigger when it names the trigger's metric (label `metric`, else its
alert name) and carries a value (annotation or label `value`) on the trigger's side of the
threshold. Debounce: the condition must have held for the trigger's window, i.e. the alert
has been firing since at least `window_minutes` ago. Cooldown: no second rollback asked by
the plan in the same environment within the plan's cooldown. Then, by the plan's mode:
*manual* does nothing, *auto-propose* records a proposal a rollback owner confirms with one
click, *automatic* asks for the rollback directly. The evidence travels with the request.
The mode, the cooldown and the ask are the plan's one answer to any trigger
(releases.rollbacks.plan_triggers), shared with the PromQL triggers and stage analyses.

Evaluated when an alert arrives, and by beat (`evaluate_rollback_triggers`) for alerts that
were still inside their window then.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import OuterRef
from django.utils import timezone

from incidents.models import Alert, AlertStatus, Incident, Stage
from releases.models import RollbackMode, RollbackPlan, RollbackRequest, RollbackTrigger
from releases.rollbacks.plan_triggers import HOLDS, act_on_held_trigger, cooling, held_for


def _value(alert: Alert) -> Decimal | None:
    raw = alert.annotations.get("value", alert.labels.get("value"))
    try:
        return Decimal(str(raw).strip()) if raw is not None else None
    except InvalidOperation:
        return None


def _speaks_for(alert: Alert, trigger: RollbackTrigger) -> bool:
    metric = alert.labels.get("metric") or alert.name
    value = _value(alert)
    return (
        metric == trigger.metric
        and value is not None
        and HOLDS[trigger.comparison](value, trigger.threshold)
    )


def evaluate(incident: Incident, now: datetime | None = None) -> RollbackRequest | None:
    """Propose or request the rollback the plan calls for, if it calls for one now."""
    now = now or timezone.now()
    if not incident.is_open or incident.stage == Stage.REVIEW:
        return None
    triggers, cooling_now = _alert_triggers_in_force(incident, now)
    if not triggers:
        return None  # no plan in force, a manual one, or only PromQL triggers
    plan = triggers[0].plan
    evidence = _held_trigger(incident, plan, triggers, now)
    if evidence is None or incident.environment is None:
        return None
    from incidents.services.rollback import roll_back_incident  # the service the button uses

    trigger_text = (
        f"{evidence['metric']} {evidence['comparison']} {evidence['threshold']} "
        f"for {evidence['window_minutes']} min"
    )
    # The plan's answer (mode, cooldown, the press) is the one every trigger gets.
    return act_on_held_trigger(
        plan=plan,
        environment=incident.environment,
        evidence=evidence,
        reason=f"The rollback plan's trigger held: {trigger_text} (value {evidence['value']}).",
        now=now,
        ask=functools.partial(roll_back_incident, actor=None, incident=incident),
        cooling_now=cooling_now,
    )


def _alert_triggers_in_force(
    incident: Incident, now: datetime
) -> tuple[list[RollbackTrigger], bool]:
    """The alert-driven triggers of the plan in force, if it is not manual, each with its
    plan, and whether the plan's cooldown holds: one query (the trigger, its plan, the
    plan's release live in the incident's environment, the cooldown). PromQL triggers are
    asked of Prometheus by beat instead."""
    if incident.environment is None:
        return [], False
    found = (
        RollbackTrigger.objects.filter(
            query="",
            plan__environment=incident.environment,
            plan__release__deployments__environment=incident.environment,
            plan__release__deployments__ended_at__isnull=True,
        )
        .exclude(plan__mode=RollbackMode.MANUAL)
        .select_related("plan")
        .annotate(
            cooling_now=cooling(incident.environment, OuterRef("plan__cooldown_minutes"), now)
        )
        .order_by("id")
    )
    triggers: list[RollbackTrigger] = []
    cooling_now = False
    for trigger in found:
        triggers.append(trigger)
        cooling_now = cooling_now or trigger.cooling_now  # the same for every trigger
    return triggers, cooling_now


# What the evaluation reads of an alert: not its whole row. The incident's id is among them
# because the related manager sets each alert's incident from it: deferred, every alert read
# would cost a query of its own.
_ALERT_COLUMNS = ("id", "incident_id", "fingerprint", "status", "name", "labels",
                  "annotations", "starts_at", "received_at")  # fmt: skip


def _held_trigger(
    incident: Incident, plan: RollbackPlan, triggers: list[RollbackTrigger], now: datetime
) -> dict[str, Any] | None:
    # The newest state of each alert, in one read: ids grow with arrival, so a resolution
    # after an alert fired is its newest row, and that alert no longer speaks.
    latest: dict[str, Alert] = {}
    for alert in incident.alerts.order_by("-id").only(*_ALERT_COLUMNS)[:200]:
        latest.setdefault(alert.fingerprint, alert)
    firing = {f: a for f, a in latest.items() if a.status == AlertStatus.FIRING}
    for trigger in triggers:
        for alert in firing.values():
            since = alert.starts_at or alert.received_at
            if not _speaks_for(alert, trigger) or not held_for(since, trigger.window_minutes, now):
                continue
            return {
                "alert": alert.name,
                "fingerprint": alert.fingerprint,
                "metric": trigger.metric,
                "comparison": trigger.get_comparison_display(),
                "threshold": f"{trigger.threshold.normalize():f}",
                "window_minutes": trigger.window_minutes,
                "value": f"{_value(alert)}",
                "firing_since": since.isoformat(),
                "plan": plan.pk,
                "mode": plan.mode,
            }
    return None


def evaluate_open_incidents(now: datetime | None = None) -> int:
    """Beat: evaluate every open incident that has a firing alert. Returns rollbacks asked."""
    asked = 0
    candidates = Incident.objects.filter(
        alerts__status=AlertStatus.FIRING, environment__isnull=False
    ).exclude(stage__in=[Stage.REVIEW, Stage.CLOSED])
    for incident in candidates.distinct().select_related("system", "environment"):
        if evaluate(incident, now) is not None:
            asked += 1
    return asked

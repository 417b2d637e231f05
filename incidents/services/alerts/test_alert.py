"""A test alert: an owner tries the alert intake from the alert-tokens page.

It goes through the very intake monitoring posts to (`receive_alerts`), so it joins or
declares an incident and the rollback plan's triggers are evaluated as for any alert. It is
marked as a test in the alert (its source) and on the timeline. Naming a trigger of the plan
in force makes the alert speak for it, over the threshold for the trigger's whole window: in
an auto-propose plan a rollback owner then finds a proposal to confirm.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.permissions import require
from governance.roles import Action
from incidents.models import TEST_SOURCE, Alert, AlertStatus
from incidents.services.alerts.ingest import receive_alerts
from incidents.services.alerts.parse import IncomingAlert
from releases.models import Environment, RollbackTrigger

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem

TEST_ALERT_NAME = "FailsafeTestAlert"
TEST_SEVERITY = "warning"  # a SEV3: a test never freezes promotions as a SEV1/2 would


def triggers_to_try(environment: Environment) -> QuerySet[RollbackTrigger]:
    """The alert-driven triggers of the plan of the release live in `environment`."""
    return RollbackTrigger.objects.filter(
        query="",
        plan__environment=environment,
        plan__release__deployments__environment=environment,
        plan__release__deployments__ended_at__isnull=True,
    ).select_related("plan__release")


def _beyond(trigger: RollbackTrigger) -> Decimal:
    """A value on the trigger's side of its threshold."""
    step = max(abs(trigger.threshold) / 10, Decimal("0.001"))
    if trigger.comparison in ("gt", "gte"):
        return trigger.threshold + step
    return trigger.threshold - step


@transaction.atomic
def send_test_alert(
    *,
    actor: User,
    system: AISystem,
    environment: Environment,
    trigger: RollbackTrigger | None = None,
) -> Alert:
    """Send one firing test alert for `environment` through the intake; the alert stored."""
    require(actor, Action.CHANGE, system)
    if environment.system_id != system.pk:
        raise ValidationError({"environment": "That environment belongs to another system."})
    if trigger is not None and not triggers_to_try(environment).filter(pk=trigger.pk).exists():
        raise ValidationError(
            {"trigger": "That trigger is not in the plan of the release live there."}
        )
    now = timezone.now()
    sender = actor.get_username()
    labels = {"alertname": TEST_ALERT_NAME, "environment": environment.slug}
    annotations = {"summary": f"Test alert sent by {sender}: nothing is wrong."}
    starts_at = now
    if trigger is not None:
        value = _beyond(trigger)
        labels["metric"] = trigger.metric
        annotations["value"] = f"{value.normalize():f}"
        annotations["summary"] = (
            f"Test alert sent by {sender}: {trigger.metric} at {annotations['value']} "
            f"for {trigger.window_minutes} min (nothing is wrong)."
        )
        starts_at = now - timedelta(minutes=trigger.window_minutes)  # the window has held
    fingerprint = f"failsafe-test:{environment.slug}:{labels.get('metric', '')}"
    (received,) = receive_alerts(
        system=system,
        alerts=[
            IncomingAlert(
                source=TEST_SOURCE,
                fingerprint=fingerprint,
                status=AlertStatus.FIRING,
                name=TEST_ALERT_NAME,
                severity=TEST_SEVERITY,
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=None,
                test_by=sender,
            )
        ],
    )
    return received.alert

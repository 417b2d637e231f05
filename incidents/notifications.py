"""What the system's owners hear of its alerts, by email: an alert that named no environment
of the system, and an alert storm.

An incident an alert declares without an environment cannot be rolled back from its war room
(there is nothing to roll back in). The owners can fix what caused it: the alert rule's
`environment` label, or the environment's slug. `incidents.services.alerts` calls
`tell_owners_of_unmatched_environment` inside the alert's transaction, once per incident and
label value; after the commit one task (`incidents.tasks.email_unmatched_environment`) loads
the incident, writes the email and sends it, on the notices' queue with the rollback notices'
bounded retries. Delivery is at least once, as theirs.

An alert storm (more new incidents a minute from one alert token than
ALERT_NEW_INCIDENTS_PER_MINUTE) takes the same path: `tell_owners_of_storm` when the storm
incident is declared, `incidents.tasks.email_alert_storm` after the commit.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from config import handoff
from governance.permissions import people_of
from governance.roles import Action
from incidents.models import Incident
from releases.models import Environment
from releases.notifications import absolute

logger = logging.getLogger(__name__)


def tell_owners_of_unmatched_environment(incident_id: int, *, label: str, value: str) -> None:
    """After the alert's transaction commits, hand the owners' email to the broker. Never
    raises into the alert: an error after the commit is logged."""
    transaction.on_commit(lambda: send_unmatched_notice(incident_id, label, value), robust=True)


def send_unmatched_notice(incident_id: int, label: str, value: str) -> None:
    """Hand the task to the broker from this process's sending thread (config.handoff): a
    broker that is down or hung delays the email, never the alert sender's answer
    (Alertmanager would time out and send the alert again)."""
    from incidents.tasks import email_unmatched_environment

    handoff.send(
        email_unmatched_environment,
        (incident_id, label, value),
        queue=settings.ROLLBACK_NOTIFY_QUEUE,
        label=f"incident {incident_id}: owners' notice of its alert's environment",
    )


def owners_addresses(incident: Incident) -> list[str]:
    """The addresses of the system's owners (active, with a role), once each."""
    addresses: dict[str, str] = {}
    for user in people_of(incident.system, Action.MANAGE_ROLES):
        address = (user.email or "").strip()
        if address:
            addresses.setdefault(address.lower(), address)
    return list(addresses.values())


def email_unmatched_environment(*, incident_id: int, label: str, value: str) -> int:
    """Email the system's owners that an alert's environment label matched nothing (or that
    it had none to match); how many it went to. Raises Incident.DoesNotExist, and OSError
    (smtplib's errors are OSErrors) for the task to retry."""
    incident = Incident.objects.select_related("system").get(pk=incident_id)
    system = incident.system
    to = owners_addresses(incident)
    if not to:
        logger.info("incident %s: no owner of %s has an email address", incident_id, system.slug)
        return 0
    environments = list(Environment.objects.filter(system=system))
    named = f'the label {label}="{value}", which matches no environment' if label else "no"
    lines = [
        f"An alert for {system.name} came with {named} environment label.",
        f"It declared INC-{incident.pk} {incident.title} ({incident.get_severity_display()}) "
        "without an environment, so the incident cannot be rolled back from its war room.",
        "",
        f"The environments of {system.name} (label an alert with the slug):",
        *[
            f"  {e.slug:<20} {e.name}{' (production)' if e.is_production else ''}"
            for e in environments
        ],
        *(["  (none: add one on the system's environments page)"] if not environments else []),
        "",
        "Fix the alert rule's environment label (or the environment's slug); the alerts "
        "that come after will name it.",
        "",
        f"Open the war room: {absolute(incident.get_absolute_url())}",
        "",
        f"You get this because you own {system.name} in Failsafe.",
    ]
    subject = (
        f"[Failsafe] An alert named no environment: INC-{incident.pk} has none ({system.name})"
    )
    EmailMessage(
        subject=" ".join(subject.split()),
        body="\n".join(lines) + "\n",
        to=to,
        headers={"X-Failsafe-Incident": str(incident.pk), "X-Failsafe-Event": "no-environment"},
    ).send()
    return len(to)


def tell_owners_of_storm(incident_id: int) -> None:
    """After the alert's transaction commits, hand the owners' storm email to the broker
    (as `tell_owners_of_unmatched_environment`)."""
    transaction.on_commit(lambda: send_storm_notice(incident_id), robust=True)


def send_storm_notice(incident_id: int) -> None:
    from incidents.tasks import email_alert_storm

    handoff.send(
        email_alert_storm,
        (incident_id,),
        queue=settings.ROLLBACK_NOTIFY_QUEUE,
        label=f"incident {incident_id}: owners' notice of an alert storm",
    )


def email_alert_storm(*, incident_id: int) -> int:
    """Email the system's owners that one alert token declared more incidents a minute than
    it may, and which incident its further alerts join; how many it went to. Raises as
    `email_unmatched_environment`."""
    incident = Incident.objects.select_related("system", "alert_token").get(pk=incident_id)
    system, token = incident.system, incident.alert_token
    to = owners_addresses(incident)
    if not to:
        logger.info("incident %s: no owner of %s has an email address", incident_id, system.slug)
        return 0
    sender = f"the alert token {token.name} ({token.prefix}…)" if token else "an alert token"
    limit = settings.ALERT_NEW_INCIDENTS_PER_MINUTE
    lines = [
        f"Alerts for {system.name} from {sender} would have opened more than {limit} "
        "incidents in a minute.",
        f"Every further alert that would open one joins INC-{incident.pk} instead, until it "
        "is closed; alerts that belong to an open incident still join theirs.",
        f"So far {incident.alerts.count()} alert(s) have joined it.",
        "",
        "Look at what the monitoring sends (a rule firing per instance, a broken grouping); "
        "revoke the token on the system's alert-tokens page if it is not to be trusted.",
        "",
        f"Open the storm incident: {absolute(incident.get_absolute_url())}",
        "",
        f"You get this because you own {system.name} in Failsafe.",
    ]
    subject = f"[Failsafe] Alert storm: INC-{incident.pk} ({system.name})"
    EmailMessage(
        subject=" ".join(subject.split()),
        body="\n".join(lines) + "\n",
        to=to,
        headers={"X-Failsafe-Incident": str(incident.pk), "X-Failsafe-Event": "alert-storm"},
    ).send()
    return len(to)

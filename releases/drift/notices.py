"""Who hears of an ungoverned change: the system's owners and on-call leads, by email and on
the Slack-compatible webhook (ROLLBACK_SLACK_WEBHOOK_URL, the rollbacks' channel), each by a
task of its own after the drift's step commits, as the rollback notices go
(releases/notifications.py): a mail server or Slack that is down never holds up the
reconcile."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from config import handoff
from governance.egress import EgressRefused
from governance.permissions import people_of
from governance.roles import Action
from releases.backends.http import http_client, is_transient, retry_after
from releases.drift import hooks
from releases.models import Drift
from releases.notifications import Link, SlackUnavailable, absolute

logger = logging.getLogger(__name__)

NOTIFIED_EVENTS = frozenset({"detected", "restored", "adopted"})
SLACK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class DriftNotice:
    headline: str
    subject: str
    body: str
    link: Link


def schedule(drift: Drift, event: str, message: str) -> None:
    """After the step commits, one task per channel. Never raises into the reconcile."""
    if event not in NOTIFIED_EVENTS:
        return
    drift_id = drift.pk
    transaction.on_commit(lambda: send_notices(drift_id, event, message), robust=True)


def send_notices(drift_id: int, event: str, message: str) -> None:
    from releases.notification_tasks import email_drift_notice, post_drift_to_slack

    tasks = [email_drift_notice]
    if settings.ROLLBACK_SLACK_WEBHOOK_URL:
        tasks.append(post_drift_to_slack)
    for task in tasks:
        handoff.send(
            task,
            (drift_id, event, message),
            queue=settings.ROLLBACK_NOTIFY_QUEUE,
            label=f"drift {drift_id}: {event} notices",
        )


def load(drift_id: int) -> Drift:
    return Drift.objects.select_related(
        "environment__system", "recorded_release", "observed_release"
    ).get(pk=drift_id)


def compose(drift: Drift, event: str, message: str) -> DriftNotice:
    environment, system = drift.environment, drift.environment.system
    recorded, observed = drift.recorded_release.version, drift.observed_label
    headline = {
        "detected": f"Ungoverned change in {environment.name}: {observed} live, "
        f"{recorded} recorded",
        "restored": f"{environment.name} reports {recorded} again",
        "adopted": f"{environment.name}: {observed} adopted",
    }.get(event, f"Drift in {environment.name}: {event}")
    link = hooks.link_for(drift) or Link(
        "Open the environments", reverse("releases:system-environments", args=[system.slug])
    )
    lines = [
        message,
        "",
        f"{'System:':<15}{system.name}",
        f"{'Environment:':<15}{environment.name}",
        f"{'Recorded:':<15}{recorded} (approved, put back by ROLL BACK NOW)",
        f"{'Observed:':<15}{observed}",
        f"{'First seen:':<15}{drift.first_seen_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"{link.title}: {absolute(link.url)}",
        "",
        f"You get this because you own {system.name} or lead its incidents.",
    ]
    subject = " ".join(f"[Failsafe] {headline} ({system.name})".split())
    return DriftNotice(headline, subject, "\n".join(lines) + "\n", link)


def recipients(drift: Drift) -> list[str]:
    """The system's owners, then its on-call leads: active, with an address, once each."""
    system = drift.environment.system
    addresses: dict[str, str] = {}
    for action in (Action.CHANGE, Action.LEAD_INCIDENT):
        for user in people_of(system, action).order_by("pk"):
            address = (user.email or "").strip()
            if address:
                addresses.setdefault(address.lower(), address)
    return list(addresses.values())


def email_notice(*, drift_id: int, event: str, message: str) -> int:
    drift = load(drift_id)
    to = recipients(drift)
    if not to:
        return 0
    notice = compose(drift, event, message)
    EmailMessage(
        subject=notice.subject,
        body=notice.body,
        to=to,
        headers={"X-Failsafe-Drift": str(drift.pk), "X-Failsafe-Event": event},
    ).send()
    return len(to)


def post_to_slack(*, drift_id: int, event: str, message: str) -> str:
    url = settings.ROLLBACK_SLACK_WEBHOOK_URL
    if not url:
        return "off"
    drift = load(drift_id)
    notice = compose(drift, event, message)
    emoji = ":rotating_light:" if event == "detected" else ":white_check_mark:"
    text = f"{emoji} *{_escape(notice.headline)}*\n{_escape(message)}"[:3000]
    payload = {
        "text": f"{notice.headline} ({drift.environment.system.name})",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": notice.link.title[:75]},
                        "url": absolute(notice.link.url),
                    }
                ],
            },
        ],
    }
    try:
        response = http_client().post(url, json=payload, timeout=SLACK_TIMEOUT_SECONDS)
    except httpx.TransportError as error:
        raise SlackUnavailable(f"Slack did not answer: {type(error).__name__}") from None
    except EgressRefused as error:
        logger.error("drift %s: the Slack webhook was not called: %s", drift_id, error)
        return "refused"
    if is_transient(response.status_code):
        raise SlackUnavailable(
            f"Slack answered {response.status_code}", retry_after=retry_after(response)
        )
    if not 200 <= response.status_code < 300:
        logger.error("drift %s: Slack refused the %s message", drift_id, event)
        return "refused"
    return "sent"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Who hears of a rollback, and what they read: an email and a Slack-compatible message.

A listener of the rollback's steps (`releases.rollback_hooks`). When a rollback is proposed,
requested, verified live or failed, the people who answer for it get an email, and the
team's channel gets a message through a Slack incoming webhook (`ROLLBACK_SLACK_WEBHOOK_URL`,
off when empty). The listener runs inside the step's transaction, so it only schedules:
once the step has committed, one task per channel (`releases.notification_tasks`) loads the
rollback, writes the message and sends it. A mail server or Slack that is down delays or
loses a notice, never the rollback. Delivery is at least once: a task retried after an
answer got lost may repeat a message.

Who gets the email: the owners named in the rollback plan of the release being replaced,
then everyone holding a role that may roll the system back (rollback owners, on-call
leads); only active people who still hold a role on the system, only with an address, each
address once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from config import handoff
from governance.egress import EgressRefused
from governance.people import person_label
from governance.permissions import people_of
from governance.roles import Action
from releases.backends.http import http_client, is_transient, retry_after
from releases.models import RollbackPlan, RollbackRequest, RollbackStatus
from releases.rollbacks.decision_links import decision_url

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# The steps people hear of. "running" is the worker's business; "dismissed" was decided by
# one of the very people who would be told.
NOTIFIED_EVENTS = frozenset({"proposed", "requested", "succeeded", "failed"})
SLACK_TIMEOUT_SECONDS = 5.0
SLACK_TEXT_LIMIT = 3000  # characters in a section's or context element's text
SLACK_BUTTON_LIMIT = 75  # characters on a button

EVENT_EMOJI = {
    "proposed": ":hourglass_flowing_sand:",
    "requested": ":rewind:",
    "succeeded": ":white_check_mark:",
    "failed": ":x:",
}


class SlackUnavailable(Exception):
    """Slack (or what stands for it) did not take the message now; a later try may, not
    before `retry_after` seconds when Slack said so (its rate limit answers 429 with one)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- where people should go ------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A page about the rollback: `url` is a path on this site or an absolute URL."""

    title: str  # an imperative, shown as the button: "Open the war room"
    url: str


LinkProvider = Callable[[RollbackRequest], Link | None]
_link_providers: list[LinkProvider] = []


def link_rollbacks(provider: LinkProvider) -> None:
    """Register a better page for some rollbacks than the system's environments, e.g. the
    war room of the incident a rollback serves (releases knows nothing of incidents, so the
    incidents app registers it). The first provider with an answer wins."""
    if provider not in _link_providers:
        _link_providers.append(provider)


def link_for(request: RollbackRequest) -> Link:
    for provider in _link_providers:
        link = provider(request)
        if link is not None:
            return link
    system = request.environment.system
    return Link(
        "Open the environments", reverse("releases:system-environments", args=[system.slug])
    )


def absolute(url: str) -> str:
    return url if "://" in url else settings.SITE_URL + url


# --- the listener ------------------------------------------------------------------------------


def notify_people(request: RollbackRequest, event: str, message: str) -> None:
    """Listener of the rollback's steps: after the step commits, send its notices.

    Runs in the step's transaction: nothing here touches the network or the database, and
    nothing raises into the rollback.
    """
    if event not in NOTIFIED_EVENTS:
        return
    try:
        request_id = request.pk
        # robust: an error after the commit is logged, not raised at whoever committed. (A
        # lambda, not a partial: Django names the callback by its __qualname__ when it fails.)
        transaction.on_commit(lambda: send_notices(request_id, event, message), robust=True)
    except Exception:
        logger.exception("rollback %s: the %s notices were not scheduled", request.pk, event)


def send_notices(request_id: int, event: str, message: str) -> None:
    """Hand one task per channel to the broker, after the rollback's own task (the same
    sending thread keeps their order), so a broker that is down or hung costs the notice's
    timeliness, never the presser's time."""
    from releases.notification_tasks import email_rollback_notice, post_rollback_to_slack

    tasks = [email_rollback_notice]
    if settings.ROLLBACK_SLACK_WEBHOOK_URL:
        tasks.append(post_rollback_to_slack)
    for task in tasks:
        handoff.send(
            task,
            (request_id, event, message),
            queue=settings.ROLLBACK_NOTIFY_QUEUE,
            countdown=settings.ROLLBACK_NOTICE_DELAY_SECONDS,
            label=f"rollback {request_id}: {event} notices",
        )


# --- what people read ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    headline: str  # "Rollback of Production verified: 2.0.0 is live"
    subject: str  # "[Failsafe] " + headline + " (Card fraud screening)"
    body: str  # plain text
    context: str  # "Card fraud screening · Production · 2.1.0 → 2.0.0 · requested by …"
    link: Link


def load(request_id: int) -> RollbackRequest:
    return RollbackRequest.objects.select_related(
        "environment__system", "from_release", "to_release", "requested_by", "confirmed_by"
    ).get(pk=request_id)


def compose(request: RollbackRequest, event: str, message: str) -> Notice:
    environment, system = request.environment, request.environment.system
    old = request.from_release.version if request.from_release else None
    new = request.to_release.version
    change = f"{old} → {new}" if old else f"to {new}"
    what = f"{'Drill: rollback' if request.is_drill else 'Rollback'} of {environment.name}"
    headline = {
        "proposed": f"{what} proposed: {change} waits for a rollback owner",
        "requested": f"{what} requested: {change}",
        "succeeded": f"{what} verified: {new} is live",
        "failed": f"{what} to {new} failed",
    }.get(event, f"{what} {event}: {change}")
    facts = [("System", system.name), ("Environment", environment.name)]
    if request.from_release:
        facts.append(("From", f"{old} ({request.from_release.title})"))
    facts.append(("To", f"{new} ({request.to_release.title})"))
    requester = _person(request.requested_by) or "the rollback plan"
    facts.append(("Requested by", requester))
    if request.confirmed_by:
        facts.append(("Confirmed by", _person(request.confirmed_by)))
    facts.append(("Reason", request.reason))
    if event == "failed" and request.error:
        facts.append(("Error", request.error))
    if event == "proposed" and request.trigger:
        facts.append(("Evidence", evidence_line(request.trigger)))
    link = link_for(request)
    lines = [message, ""]
    lines += [f"{label + ':':<15}{value}" for label, value in facts]
    if event == "proposed" and request.status == RollbackStatus.PROPOSED:
        minutes = settings.ROLLBACK_DECISION_LINK_MINUTES
        lines += [
            "",
            f"Confirm or dismiss it (this link opens it for {minutes} minutes):",
            absolute(decision_url(request)),
        ]
    lines += [
        "",
        f"{link.title}: {absolute(link.url)}",
        f"The rollback's record: {absolute(reverse('rollback-detail', args=[request.pk]))}",
        "",
        f"You get this because you own the rollback plan or may roll back {system.name}.",
    ]
    subject = " ".join(f"[Failsafe] {headline} ({system.name})".split())  # one header line
    context = f"{system.name} · {environment.name} · {change} · requested by {requester}"
    return Notice(headline, subject, "\n".join(lines) + "\n", context, link)


def evidence_line(trigger: dict[str, Any]) -> str:
    """What the plan's trigger saw, as one line: "review_rate > 2.5 for 15 min: 3.1"."""
    if {"metric", "comparison", "threshold", "window_minutes"} <= trigger.keys():
        held = (
            f"{trigger['metric']} {trigger['comparison']} {trigger['threshold']} "
            f"for {trigger['window_minutes']} min"
        )
        return f"{held}: {trigger['value']}" if "value" in trigger else held
    return ", ".join(f"{key}={value}" for key, value in trigger.items())


def _person(user: User | None) -> str:
    return person_label(user) if user is not None else ""


def recipients(request: RollbackRequest) -> list[str]:
    """Addresses of the plan's owners, then of those who may roll the system back; once each."""
    system = request.environment.system
    on_system = {user.pk for user in people_of(system)}  # active, with a role: may read this
    owners: list[User] = []
    plan = (
        RollbackPlan.objects.filter(
            release_id=request.from_release_id, environment_id=request.environment_id
        ).first()
        if request.from_release_id
        else None
    )
    if plan is not None:
        owners = [user for user in plan.owners.order_by("pk") if user.pk in on_system]
    addresses: dict[str, str] = {}
    for user in [*owners, *people_of(system, Action.REQUEST_ROLLBACK)]:
        address = (user.email or "").strip()
        if address:
            addresses.setdefault(address.lower(), address)
    return list(addresses.values())


def slack_payload(request: RollbackRequest, event: str, message: str) -> dict[str, Any]:
    """Slack's incoming-webhook message: `text` for notifications, `blocks` for the channel."""
    notice = compose(request, event, message)
    emoji = EVENT_EMOJI.get(event, ":information_source:")
    return {
        "text": f"{notice.headline} ({request.environment.system.name})",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip(f"{emoji} *{_escape(notice.headline)}*\n{_escape(message)}"),
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _clip(_escape(notice.context))}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": notice.link.title[:SLACK_BUTTON_LIMIT],
                        },
                        "url": absolute(notice.link.url),
                    }
                ],
            },
        ],
    }


def _escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup (links, mentions): show them as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str) -> str:
    return text if len(text) <= SLACK_TEXT_LIMIT else text[: SLACK_TEXT_LIMIT - 1] + "…"


# --- sending (the tasks call these) ---------------------------------------------------------------


def email_notice(*, request_id: int, event: str, message: str) -> int:
    """Email one step of a rollback to the people who answer for it; how many it went to.

    Raises RollbackRequest.DoesNotExist, and OSError (smtplib's errors are OSErrors) for the
    task to retry.
    """
    request = load(request_id)
    to = recipients(request)
    if not to:
        logger.info("rollback %s: nobody with an email address to tell of %s", request_id, event)
        return 0
    notice = compose(request, event, message)
    EmailMessage(
        subject=notice.subject,
        body=notice.body,
        to=to,
        headers={"X-Failsafe-Rollback": str(request.pk), "X-Failsafe-Event": event},
    ).send()
    return len(to)


def post_to_slack(*, request_id: int, event: str, message: str) -> str:
    """Post one step of a rollback to the Slack incoming webhook: "sent", "off" (no webhook
    configured) or "refused" (Slack said no for good: a revoked webhook, an archived channel).

    Raises SlackUnavailable for the task to retry (timeouts, connection errors, and the
    statuses the deployment backends retry too: 408, 425, 429, 5xx), with Slack's
    Retry-After; and RollbackRequest.DoesNotExist.
    """
    url = settings.ROLLBACK_SLACK_WEBHOOK_URL
    if not url:
        return "off"
    payload = slack_payload(load(request_id), event, message)
    # The URL is the secret that lets anyone post: it is never logged. The operator sets it;
    # it goes through the guarded client all the same (an internal relay must be allowed).
    try:
        # This process's kept-alive client: one TLS handshake, not one per notice.
        response = http_client().post(url, json=payload, timeout=SLACK_TIMEOUT_SECONDS)
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
        logger.error("rollback %s: the Slack webhook URL is unusable: %s", request_id, error)
        return "refused"
    except EgressRefused as error:  # the rule and the address, never the URL's secret path
        logger.error("rollback %s: the Slack webhook was not called: %s", request_id, error)
        return "refused"
    except httpx.TransportError as error:
        # Chained errors would carry the request, and so the URL, into the logs.
        raise SlackUnavailable(f"Slack did not answer: {type(error).__name__}: {error}") from None
    status = response.status_code
    if is_transient(status):
        raise SlackUnavailable(
            f"Slack answered {status}: {response.text[:200]}", retry_after=retry_after(response)
        )
    if not 200 <= status < 300:
        logger.error(
            "rollback %s: Slack refused the %s message (%s): %s",
            request_id,
            event,
            status,
            response.text[:200],
        )
        return "refused"
    return "sent"

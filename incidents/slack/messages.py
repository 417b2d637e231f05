"""The incident's one message in its system's Slack channel: what it says (Block Kit) and
posting it once, then updating it in place (chat.update with the stored channel and ts) as
the incident and its rollback move.

The services call `post_soon` beside `paging.page_soon`, once their transaction committed:
the message is a task of its own, so a Slack that is down or rate-limiting never holds up a
press, an alert or a rollback. The task retries with backoff (incidents.tasks).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.limits import ERROR, shorten
from incidents.integrations import sync_after_commit
from incidents.models import Incident, IncidentRollback, SlackMessage, Stage
from incidents.slack.client import SlackError, client_for, explain
from releases.models import RollbackRequest, RollbackStatus

logger = logging.getLogger(__name__)

# Action ids of the message's buttons, which the interactivity endpoint dispatches on.
ROLL_BACK_NOW = "rollback_now"
CONFIRM = "rollback_confirm"
DISMISS = "rollback_dismiss"
OPEN_WAR_ROOM = "open_war_room"

RESOLVED_STAGES = frozenset({Stage.RECOVERY, Stage.REVIEW, Stage.CLOSED})
SECTION_TEXT = 3000  # Slack refuses a longer section text
ROLLBACK_WORDS = {
    RollbackStatus.PROPOSED: ":warning: Rollback proposed",
    RollbackStatus.REQUESTED: ":hourglass_flowing_sand: Rollback requested",
    RollbackStatus.RUNNING: ":arrows_counterclockwise: Rollback running",
    RollbackStatus.SUCCEEDED: ":white_check_mark: Rollback verified",
    RollbackStatus.FAILED: ":x: Rollback failed",
    RollbackStatus.DISMISSED: ":no_entry_sign: Proposal dismissed",
}


def posts_to_slack(incident: Incident) -> bool:
    system = incident.system
    return bool(system.slack_bot_token and system.slack_channel_id)


def post_soon(incident: Incident) -> None:
    """After this transaction commits, bring the incident's Slack message in line with it
    (a task), if its system posts to Slack at all."""
    if not posts_to_slack(incident):
        return
    from incidents.tasks import post_to_slack

    sync_after_commit(post_to_slack, incident.pk, "Slack message")


def latest_rollback(incident: Incident) -> RollbackRequest | None:
    link = (
        IncidentRollback.objects.filter(incident=incident)
        .select_related("request__from_release", "request__to_release", "request__requested_by",
                        "request__confirmed_by")
        .order_by("-id")
        .first()
    )  # fmt: skip
    return link.request if link else None


def sync_message(*, incident_id: int) -> str:
    """Post the incident's message, or update the one posted: "posted", "updated" or
    "quiet" (the system posts to no channel). Raises SlackError when Slack refused."""
    incident = Incident.objects.select_related("system", "environment", "live_release").get(
        pk=incident_id
    )
    if not posts_to_slack(incident):
        return "quiet"
    text, blocks = compose(incident)
    client = client_for(incident.system)
    try:
        return _post_or_update(incident, client, text, blocks)
    except Exception as error:  # slack_sdk's errors and the network's (urllib, sockets)
        raise _noted(incident, explain(error)) from error


def _post_or_update(incident: Incident, client: Any, text: str, blocks: list[dict]) -> str:
    with transaction.atomic():
        # Two tasks of one incident at once would post two messages: one at a time.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('slack-message'), %s)",
                           [incident.pk])  # fmt: skip
        message = SlackMessage.objects.filter(incident=incident).first()
        now = timezone.now()
        if message is not None and message.channel == incident.system.slack_channel_id:
            client.chat_update(channel=message.channel, ts=message.ts, text=text, blocks=blocks)
            message.updated_at, message.error = now, ""
            message.save(update_fields=["updated_at", "error"])
            return "updated"
        # The first message, or the first in a channel the owners changed to.
        answer = client.chat_postMessage(
            channel=incident.system.slack_channel_id, text=text, blocks=blocks
        )
        SlackMessage.objects.update_or_create(
            incident=incident,
            defaults={"channel": answer["channel"], "ts": answer["ts"], "posted_at": now,
                      "updated_at": now, "error": ""},
        )  # fmt: skip
        return "posted"


def compose(incident: Incident) -> tuple[str, list[dict[str, Any]]]:
    """The message: (its fallback text, its blocks). The buttons are offered to everyone in
    the channel; the endpoint decides who may press them, as the war room does."""
    system, environment = incident.system, incident.environment
    war_room = settings.SITE_URL + incident.get_absolute_url()
    resolved = incident.stage in RESOLVED_STAGES
    mark = ":large_green_circle: Resolved" if resolved else ":rotating_light:"
    title = f"INC-{incident.pk} · {incident.severity.upper()} · {system.name}"
    facts = [
        f"*Stage:* {incident.get_stage_display()}",
        f"*Environment:* {environment.name if environment else '—'}",
        f"*Live release:* {incident.live_release.version if incident.live_release else '—'}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": shorten(f"{title}", 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": shorten(
            f"{mark} *{_escape(incident.title)}*\n{'   '.join(facts)}", SECTION_TEXT)}},
    ]  # fmt: skip
    rollback = latest_rollback(incident)
    if rollback is not None:
        blocks.append(_rollback_section(rollback))
    buttons = _buttons(incident, rollback, war_room)
    blocks.append({"type": "actions", "block_id": f"incident-{incident.pk}", "elements": buttons})
    text = f"{title}: {incident.title} ({incident.get_stage_display()})"
    if rollback is not None:
        text += f". Rollback {rollback.get_status_display().lower()}"
    return shorten(text, SECTION_TEXT), blocks


def _rollback_section(rollback: RollbackRequest) -> dict[str, Any]:
    replacing = rollback.from_release.version if rollback.from_release else "—"
    lines = [f"{ROLLBACK_WORDS[RollbackStatus(rollback.status)]}: "
             f"{replacing} → *{rollback.to_release.version}*"]  # fmt: skip
    who = rollback.confirmed_by or rollback.requested_by
    if who is not None:
        lines.append(f"By {_escape(who.get_full_name() or who.username)}: "
                     f"{_escape(rollback.reason)}")  # fmt: skip
    elif rollback.reason:
        lines.append(f"Evidence: {_escape(rollback.reason)}")
    if rollback.status == RollbackStatus.FAILED and rollback.error:
        lines.append(f"Error: {_escape(rollback.error)}")
    text = shorten("\n".join(lines), SECTION_TEXT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _buttons(
    incident: Incident, rollback: RollbackRequest | None, war_room: str
) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if rollback is not None and rollback.status == RollbackStatus.PROPOSED:
        buttons.append({
            "type": "button", "action_id": CONFIRM, "style": "primary", "value": str(rollback.pk),
            "text": {"type": "plain_text", "text": "Confirm proposed rollback"},
            "confirm": {
                "title": {"type": "plain_text", "text": "Confirm the rollback?"},
                "text": {"type": "mrkdwn", "text": shorten(
                    f"{rollback.to_release.version} goes live in its environment, replacing "
                    f"{rollback.from_release.version if rollback.from_release else 'what runs'}.",
                    300)},
                "confirm": {"type": "plain_text", "text": "Roll back"},
                "deny": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
            },
        })  # fmt: skip
        buttons.append({
            "type": "button", "action_id": DISMISS, "value": str(rollback.pk),
            "text": {"type": "plain_text", "text": "Dismiss"},
        })  # fmt: skip
    active = rollback is not None and rollback.status in RollbackStatus.active()
    if incident.is_open and incident.environment_id and not active:
        buttons.append({
            "type": "button", "action_id": ROLL_BACK_NOW, "style": "danger",
            "value": str(incident.pk), "text": {"type": "plain_text", "text": "ROLL BACK NOW"},
        })  # fmt: skip
    buttons.append({
        "type": "button", "action_id": OPEN_WAR_ROOM, "url": war_room,
        "text": {"type": "plain_text", "text": "Open war room"},
    })  # fmt: skip
    return buttons


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters, as its documentation says to escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _noted(incident: Incident, error: SlackError) -> SlackError:
    logger.warning("Slack message not sent: %s", error)
    SlackMessage.objects.filter(incident=incident).update(error=shorten(str(error), ERROR))
    return error

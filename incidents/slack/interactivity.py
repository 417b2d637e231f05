"""Slack's interactivity endpoint: the message's buttons and the modals they open.

A request is taken only when Slack's signature holds (v0, HMAC-SHA256 of
`v0:{X-Slack-Request-Timestamp}:{body}` with the app's signing secret, its timestamp within
five minutes: slack_sdk's SignatureVerifier), and only once (the same signature again is a
replay, answered and ignored). The presser is the Failsafe user Slack's confirmed email names
(incidents.slack.people); what they press calls the services the war room calls, which check
the same permission and write the same audit events. A refusal is said to the presser alone
(chat.postEphemeral) and changes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from governance.egress import EgressRefused
from governance.permissions import can
from governance.roles import Action
from incidents import services
from incidents.models import Incident, IncidentRollback, SlackDelivery, SlackMessage
from incidents.slack import dialogs, messages
from incidents.slack.client import client_for
from incidents.slack.people import HOW_TO_LINK, failsafe_user
from releases import rollbacks
from releases.models import RollbackStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

PRESSERS = "rollback owners and on-call leads"
# Slack's timestamps are taken five minutes either side of now: twice that, and a margin.
REPLAY_WINDOW = timedelta(minutes=15)
SLACK_FAILED = (
    "Slack did not answer Failsafe in time: nothing was done. Press again, or use the war room."
)


class Refusal(Exception):
    """What the presser is told, and nothing done."""


@csrf_exempt
@require_POST
def interactivity(request: HttpRequest) -> HttpResponse:
    body = request.body
    if not _signed_by_slack(request, body):
        return JsonResponse({"error": "The request is not signed by Slack."}, status=401)
    try:
        payload = json.loads(QueryDict(body.decode("utf-8")).get("payload") or "")
    except (UnicodeDecodeError, ValueError):
        return JsonResponse({"error": "No payload Slack sends."}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), dict):
        return JsonResponse({"error": "No payload Slack sends."}, status=400)
    if not _first_delivery(request.headers["X-Slack-Signature"]):
        return HttpResponse(status=200)  # a replay: taken already, nothing new
    if payload.get("type") == "block_actions":
        _on_button(payload)
        return HttpResponse(status=200)
    if payload.get("type") == "view_submission":
        return _on_dialog(payload)
    return HttpResponse(status=200)  # a kind of interaction the app does not offer


def _signed_by_slack(request: HttpRequest, body: bytes) -> bool:
    secret = settings.SLACK_SIGNING_SECRET
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not secret or not timestamp.isdigit() or not signature.startswith("v0="):
        return False
    # Timestamps more than five minutes off are refused there: a replay after that is stale.
    return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)


def _first_delivery(signature: str) -> bool:
    try:
        with transaction.atomic():
            SlackDelivery.objects.create(signature=signature[:80])
    except IntegrityError:
        return False
    # A signature older than this has a timestamp the verifier refuses: nothing to guard.
    SlackDelivery.objects.filter(received_at__lt=timezone.now() - REPLAY_WINDOW).delete()
    return True


# ---- the message's buttons -----------------------------------------------------------------


def _on_button(payload: dict[str, Any]) -> None:
    actions = payload.get("actions")
    action = _mapping(actions[0] if isinstance(actions, list) and actions else None)
    action_id, value = action.get("action_id"), str(action.get("value") or "")
    if action_id not in (messages.ROLL_BACK_NOW, messages.CONFIRM, messages.DISMISS):
        return  # Open war room is a link: Slack tells the app, there is nothing to do
    container = _mapping(payload.get("container"))
    channel, ts = str(container.get("channel_id") or ""), str(container.get("message_ts") or "")
    user_id = str(payload["user"].get("id") or "")
    # The button must be on the incident's own message: the message names what it acts on.
    message = (
        SlackMessage.objects.filter(channel=channel, ts=ts)
        .select_related("incident__system", "incident__environment")
        .first()
    )
    if message is None or not value.isdigit():
        logger.warning("Slack press on a message Failsafe did not post: %s/%s", channel, ts)
        return
    incident = message.incident
    try:
        person = _person(incident, user_id)
        if action_id == messages.ROLL_BACK_NOW and str(incident.pk) == value:
            _open_roll_back(incident, person, str(payload.get("trigger_id") or ""))
        elif action_id == messages.CONFIRM:
            link = _proposal(incident, int(value))
            rollbacks.confirm_rollback(actor=person, request=link.request)
        elif action_id == messages.DISMISS:
            link = _proposal(incident, int(value))
            _require_presser(incident, person)
            _open(incident, payload, dialogs.dismiss_dialog(incident, link.request))
    except PermissionDenied:
        _tell(incident, channel, user_id, _refused(incident))
    except ValidationError as error:
        _tell(incident, channel, user_id, " ".join(error.messages) + " Nothing was done.")
    except Refusal as refusal:
        _tell(incident, channel, user_id, str(refusal))
    except (SlackApiError, OSError, EgressRefused) as error:  # e.g. the trigger_id expired
        logger.warning("Slack refused a dialog: %s", error)
        _tell(incident, channel, user_id, SLACK_FAILED)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _person(incident: Incident, slack_user_id: str) -> User:
    try:
        person = failsafe_user(incident.system, slack_user_id)
    except SlackApiError as error:
        if error.response.get("error") != "user_not_found":
            logger.warning("Slack did not say who pressed: %s", error)
            raise Refusal(SLACK_FAILED) from error
        person = None
    except (OSError, EgressRefused) as error:  # the network's, or SLACK_API_URL refused
        logger.warning("Slack did not say who pressed: %s", error)
        raise Refusal(SLACK_FAILED) from error
    if person is None:
        raise Refusal(HOW_TO_LINK)
    return person


def _refused(incident: Incident) -> str:
    return (f"You may not roll back {incident.system.name}: {PRESSERS} may. Nothing was "
            "done; ask one of them, or the system's owners for the role.")  # fmt: skip


def _require_presser(incident: Incident, person: User) -> None:
    # The permission authority the services ask; a modal must not open to be refused later.
    if not can(person, Action.REQUEST_ROLLBACK, incident.system):
        raise PermissionDenied


def _proposal(incident: Incident, request_id: int) -> IncidentRollback:
    link = (
        IncidentRollback.objects.filter(incident=incident, request_id=request_id)
        .select_related("request__to_release", "request__environment__system")
        .first()
    )
    if link is None:
        raise Refusal("That rollback is not this incident's. Nothing was done.")
    return link


def _open_roll_back(incident: Incident, person: User, trigger_id: str) -> None:
    _require_presser(incident, person)
    if incident.environment is None or not incident.is_open:
        raise Refusal("This incident has nothing to roll back (no environment, or closed).")
    choice = rollbacks.rollback_choice(incident.environment)
    if choice.target is None:
        raise Refusal(f"Nothing came before in {incident.environment.name}: there is no "
                      "release to roll back to.")  # fmt: skip
    client_for(incident.system).views_open(
        trigger_id=trigger_id, view=dialogs.roll_back_dialog(incident, choice)
    )


def _open(incident: Incident, payload: dict[str, Any], view: dict[str, Any]) -> None:
    client_for(incident.system).views_open(trigger_id=str(payload.get("trigger_id") or ""),
                                           view=view)  # fmt: skip


def _tell(incident: Incident, channel: str, user_id: str, text: str) -> None:
    """Said to the presser alone, in the channel they pressed in."""
    try:
        client_for(incident.system).chat_postEphemeral(channel=channel, user=user_id, text=text)
    except Exception:  # slack_sdk's errors and the network's: the refusal stands regardless
        logger.warning("Slack refusal not delivered", exc_info=True)


# ---- the modals' submissions --------------------------------------------------------------


def _on_dialog(payload: dict[str, Any]) -> HttpResponse:
    view = _mapping(payload.get("view"))
    callback = view.get("callback_id")
    if callback not in (dialogs.ROLL_BACK_DIALOG, dialogs.DISMISS_DIALOG):
        return HttpResponse(status=200)
    try:
        metadata = _mapping(json.loads(view.get("private_metadata") or ""))
        incident = Incident.objects.select_related("system", "environment").get(
            pk=int(metadata["incident"])
        )
        proposal_id = int(metadata.get("request") or 0)
    except (ValueError, KeyError, TypeError, Incident.DoesNotExist):
        return _dialog_error("This dialog is out of date: press the button again.")
    reason = dialogs.reason_of(view)
    if not reason:
        return _dialog_error("Say why.")
    try:
        person = _person(incident, str(payload["user"].get("id") or ""))
        if callback == dialogs.ROLL_BACK_DIALOG:
            services.roll_back_incident(
                actor=person, incident=incident, reason=reason,
                further=bool(metadata.get("further")),
                expected_from=str(metadata.get("from") or "") or None,
                expected_target=str(metadata.get("to") or "") or None,
                # Submitted twice (a double click, a resend): one rollback.
                idempotency_key=f"slack-{view.get('id')}",
            )  # fmt: skip
        else:
            link = _proposal(incident, proposal_id)
            if link.request.status != RollbackStatus.PROPOSED:
                raise ValidationError("The proposal was decided already.")
            rollbacks.dismiss_rollback(actor=person, request=link.request, reason=reason)
    except PermissionDenied:
        return _dialog_error(_refused(incident))
    except ValidationError as error:
        return _dialog_error(" ".join(error.messages) + " Nothing was done.")
    except Refusal as refusal:
        return _dialog_error(str(refusal))
    return JsonResponse({"response_action": "clear"})


def _dialog_error(text: str) -> JsonResponse:
    # Said under the reason field, the modal left open (Slack's response_action errors).
    return JsonResponse({"response_action": "errors", "errors": {dialogs.REASON_BLOCK: text}})

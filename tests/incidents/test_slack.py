"""Incidents in Slack: the incident's one message, updated in place as its rollback moves, and
its buttons pressed through the interactivity endpoint. Requests are shaped and signed as
Slack's documentation shows (v0, HMAC-SHA256 of `v0:{timestamp}:{body}`); a local stand-in
answers for Slack's Web API (tests/fixtures/slack_server.py): no Slack workspace is reached."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from governance import services as governance
from governance.models import AuditEvent
from incidents import services
from incidents.models import SlackDelivery, SlackMessage
from incidents.slack import messages
from incidents.slack.client import SlackError
from incidents.slack.interactivity import SLACK_FAILED
from incidents.slack.people import HOW_TO_LINK
from releases import rollbacks
from releases.models import RollbackRequest, RollbackStatus
from tests.fixtures.slack_server import SlackStandIn

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
CHANNEL = "C0FRAUDINC"
# The signing secret of Slack's own example (docs: Verifying requests from Slack).
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ENDPOINT = "/api/slack/interactivity/"
ROB, VIC, STRANGER = "U0ROBROLLS", "U0VICVIEWS", "U0UNKNOWN1"

pytestmark = pytest.mark.django_db


@pytest.fixture
def slack(settings, fraud, rollback_owner, viewer) -> Iterator[SlackStandIn]:  # type: ignore[no-untyped-def]
    stand_in = SlackStandIn(TOKEN).start()
    settings.SLACK_API_URL = stand_in.url
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_TIMEOUT_SECONDS = 2
    fraud.slack_bot_token, fraud.slack_channel_id = TOKEN, CHANNEL
    fraud.save()
    stand_in.add_user(ROB, rollback_owner.email.upper())  # Slack keeps the case typed
    stand_in.add_user(VIC, viewer.email)
    stand_in.add_user(STRANGER, rollback_owner.email, confirmed=False)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def posted(slack, incident, earlier):  # type: ignore[no-untyped-def]
    """The incident's message in the channel: 2.0.0 live, 1.9.0 before it."""
    assert messages.sync_message(incident_id=incident.pk) == "posted"
    return SlackMessage.objects.get(incident=incident)


def signed(client, payload: dict[str, Any], *, secret: str = SECRET, age: int = 0, signature=None):  # type: ignore[no-untyped-def]
    """POST the payload as Slack does: form-encoded `payload`, signed with the app's secret."""
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    headers = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": signature
        if signature is not None
        else f"v0={digest.hexdigest()}",
    }
    return client.post(
        ENDPOINT, data=body, content_type="application/x-www-form-urlencoded", **headers
    )


def press(message: SlackMessage, user_id: str, action_id: str, value: str) -> dict[str, Any]:
    """A block_actions payload, as Slack sends one for a button on the app's message."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": "T0FAILSAFE"},
        "api_app_id": "A0FAILSAFE",
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                      "is_ephemeral": False},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": "T0FAILSAFE", "domain": "failsafe-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "fraud-incidents"},
        "message": {"type": "message", "ts": message.ts, "text": "INC", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0FAILSAFE/1/abcdef",
        "actions": [{"action_id": action_id, "block_id": f"incident-{message.incident_id}",
                     "text": {"type": "plain_text", "text": "button", "emoji": True},
                     "value": value, "type": "button", "action_ts": "1765000100.000200"}],
    }  # fmt: skip


def submit(view: dict[str, Any], user_id: str, reason: str) -> dict[str, Any]:
    """A view_submission payload for the modal Failsafe opened, the reason typed in."""
    state = {"values": {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}}
    return {
        "type": "view_submission",
        "team": {"id": "T0FAILSAFE", "domain": "failsafe-test"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": "T0FAILSAFE"},
        "api_app_id": "A0FAILSAFE",
        "token": "verification-token-unused",
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "view": {**view, "team_id": "T0FAILSAFE", "state": state, "hash": "1765000200.abcdef",
                 "previous_view_id": None, "root_view_id": view["id"], "app_id": "A0FAILSAFE",
                 "external_id": "", "bot_id": "B0FAILSAFE"},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }  # fmt: skip


def propose(incident):  # type: ignore[no-untyped-def]
    """What a trigger of the plan proposes, waiting for a rollback owner."""
    proposal, _ = services.roll_back_incident(
        actor=None, incident=incident, reason="review_rate > 2.5 for 15 min", propose=True,
        trigger={"metric": "review_rate", "value": "3.1", "window_minutes": 15},
    )  # fmt: skip
    return proposal


def opened_view(slack: SlackStandIn) -> dict[str, Any]:
    (call,) = slack.called("views.open")
    return {**call["view"], "id": "V0MODAL0001"}


def buttons(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    actions = next(b for b in args["blocks"] if b["type"] == "actions")
    return {element["action_id"]: element for element in actions["elements"]}


# ---- the message ----------------------------------------------------------------------------


def test_an_incident_is_posted_once_then_updated_in_place(slack, posted, incident, oncall_lead):
    (sent,) = slack.called("chat.postMessage")
    assert sent["channel"] == CHANNEL and "Review rate tripled" in sent["text"]
    offered = buttons(sent)
    assert offered["rollback_now"]["value"] == str(incident.pk)
    assert offered["open_war_room"]["url"].endswith(f"/incidents/{incident.pk}/")
    assert "rollback_confirm" not in offered  # nothing proposed

    services.change_severity(actor=oncall_lead, incident=incident, severity="sev1", reason="Worse")
    assert messages.sync_message(incident_id=incident.pk) == "updated"
    (update,) = slack.called("chat.update")
    assert (update["channel"], update["ts"]) == (posted.channel, posted.ts)
    assert "SEV1" in update["blocks"][0]["text"]["text"]
    assert len(slack.called("chat.postMessage")) == 1  # one message per incident


def test_a_proposal_offers_confirm_and_dismiss(slack, posted, incident, earlier):
    propose(incident)
    messages.sync_message(incident_id=incident.pk)
    update = slack.called("chat.update")[-1]
    offered = buttons(update)
    proposal = RollbackRequest.objects.get()
    assert offered["rollback_confirm"]["value"] == str(proposal.pk)
    assert "1.9.0 goes live" in offered["rollback_confirm"]["confirm"]["text"]["text"]
    assert "rollback_dismiss" in offered and "rollback_now" not in offered
    assert "Rollback proposed" in json.dumps(update["blocks"])


def test_slack_down_or_refusing_fails_the_message_not_the_incident(slack, posted, incident):
    slack.token = "xoxb-another-app"  # the system's token revoked: invalid_auth
    with pytest.raises(SlackError) as refused:
        messages.sync_message(incident_id=incident.pk)
    assert refused.value.transient is False and "invalid_auth" in str(refused.value)
    assert "invalid_auth" in SlackMessage.objects.get(incident=incident).error
    slack.stop()  # down: retried by the task
    with pytest.raises(SlackError) as down:
        messages.sync_message(incident_id=incident.pk)
    assert down.value.transient is True


def test_a_system_without_slack_schedules_nothing(
    incident, oncall_lead, django_capture_on_commit_callbacks
):
    assert messages.sync_message(incident_id=incident.pk) == "quiet"
    with django_capture_on_commit_callbacks() as scheduled:
        services.change_severity(actor=oncall_lead, incident=incident, severity="sev1",
                                 reason="Worse")  # fmt: skip
    assert not any("Slack" in repr(callback.__closure__) for callback in scheduled)
    assert not SlackMessage.objects.exists()


# ---- ROLL BACK NOW from Slack ---------------------------------------------------------------


def test_a_rollback_owner_rolls_back_from_slack_once_and_the_message_follows(
    client, slack, posted, incident, rollback_owner, earlier
):
    response = signed(client, press(posted, ROB, "rollback_now", str(incident.pk)))
    assert response.status_code == 200
    view = opened_view(slack)
    said = json.dumps(view["blocks"])
    assert "*1.9.0* goes live, replacing *2.0.0*" in said  # the release live next, and now
    assert not RollbackRequest.objects.exists()  # the dialog asks first

    submission = submit(view, ROB, "Review rate 3x since 2.0.0")
    response = signed(client, submission)
    assert response.status_code == 200 and response.json() == {"response_action": "clear"}
    request = RollbackRequest.objects.get()
    assert request.requested_by == rollback_owner and request.to_release == earlier
    assert request.status == RollbackStatus.REQUESTED
    audit = AuditEvent.objects.filter(action__startswith="rollback").count()
    assert audit >= 1

    rollbacks.run_rollback(request_id=request.pk)
    assert messages.sync_message(incident_id=incident.pk) == "updated"
    update = slack.called("chat.update")[-1]
    assert (update["channel"], update["ts"]) == (posted.channel, posted.ts)
    assert "Rollback verified: 2.0.0 → *1.9.0*" in json.dumps(update["blocks"], ensure_ascii=False)
    assert "rollback_now" in buttons(update)  # done: a further press is offered again

    # The same submission Slack signed again later (a resend): the press's own key holds.
    events = AuditEvent.objects.count()
    resent = signed(client, submission, age=2)
    assert resent.status_code == 200
    assert RollbackRequest.objects.count() == 1 and AuditEvent.objects.count() == events


def test_a_replayed_request_is_taken_once(client, slack, posted, incident, rollback_owner, earlier):
    payload = press(posted, ROB, "rollback_now", str(incident.pk))
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    headers = {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
               "HTTP_X_SLACK_SIGNATURE": f"v0={digest.hexdigest()}"}  # fmt: skip
    kind = "application/x-www-form-urlencoded"
    assert client.post(ENDPOINT, data=body, content_type=kind, **headers).status_code == 200
    assert client.post(ENDPOINT, data=body, content_type=kind, **headers).status_code == 200
    assert len(slack.called("views.open")) == 1  # the replay opened nothing


def test_signatures_past_their_window_are_not_kept(client, slack, posted, incident, earlier):
    old = SlackDelivery.objects.create(signature="v0=old")
    SlackDelivery.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(minutes=16)
    )
    signed(client, press(posted, ROB, "open_war_room", ""))
    assert not SlackDelivery.objects.filter(pk=old.pk).exists()
    assert SlackDelivery.objects.count() == 1  # the press's own, kept for its window


@pytest.mark.parametrize(
    "forgery",
    [
        {"signature": ""},  # unsigned
        {"secret": "not-the-signing-secret"},
        {"age": 6 * 60},  # stale: more than five minutes off
        {"signature": "v1=abc"},
    ],
)
def test_a_request_not_signed_by_slack_is_refused(  # type: ignore[no-untyped-def]
    client, slack, posted, incident, forgery
):
    response = signed(client, press(posted, ROB, "rollback_now", str(incident.pk)), **forgery)
    assert response.status_code == 401
    assert not slack.called("users.info") and not slack.called("views.open")


def test_no_signing_secret_refuses_everything(client, slack, posted, incident, settings):
    settings.SLACK_SIGNING_SECRET = ""
    response = signed(client, press(posted, ROB, "rollback_now", str(incident.pk)))
    assert response.status_code == 401


def test_a_viewer_is_refused_in_private_and_nothing_changes(
    client, slack, posted, incident, viewer, earlier
):
    events = AuditEvent.objects.count()
    response = signed(client, press(posted, VIC, "rollback_now", str(incident.pk)))
    assert response.status_code == 200
    (refusal,) = slack.called("chat.postEphemeral")
    assert refusal["user"] == VIC and refusal["channel"] == CHANNEL
    assert "You may not roll back" in refusal["text"] and "Nothing was done" in refusal["text"]
    assert not slack.called("views.open")
    assert not RollbackRequest.objects.exists() and AuditEvent.objects.count() == events


def test_a_viewer_submitting_the_dialog_changes_nothing(
    client, slack, posted, incident, viewer, earlier
):
    signed(client, press(posted, ROB, "rollback_now", str(incident.pk)))
    events = AuditEvent.objects.count()
    response = signed(client, submit(opened_view(slack), VIC, "I think so"))
    assert response.json()["response_action"] == "errors"
    assert "You may not roll back" in response.json()["errors"]["reason"]
    assert not RollbackRequest.objects.exists() and AuditEvent.objects.count() == events


def test_a_viewer_cannot_confirm_a_proposal(client, slack, posted, incident, viewer, earlier):
    proposal = propose(incident)
    events = AuditEvent.objects.count()
    signed(client, press(posted, VIC, "rollback_confirm", str(proposal.pk)))
    proposal.refresh_from_db()
    assert proposal.status == RollbackStatus.PROPOSED and AuditEvent.objects.count() == events
    assert "You may not roll back" in slack.called("chat.postEphemeral")[0]["text"]


def test_an_unknown_slack_user_is_told_how_to_link(client, slack, posted, incident, earlier):
    signed(client, press(posted, STRANGER, "rollback_now", str(incident.pk)))  # unconfirmed email
    (told,) = slack.called("chat.postEphemeral")
    assert told["user"] == STRANGER and told["text"] == HOW_TO_LINK
    assert not slack.called("views.open") and not RollbackRequest.objects.exists()


def test_a_rollback_owner_confirms_the_proposal_from_slack(
    client, slack, posted, incident, rollback_owner, earlier
):
    proposal = propose(incident)
    assert (
        signed(client, press(posted, ROB, "rollback_confirm", str(proposal.pk))).status_code == 200
    )
    proposal.refresh_from_db()
    assert proposal.status == RollbackStatus.REQUESTED and proposal.confirmed_by == rollback_owner
    assert AuditEvent.objects.filter(action="rollback.confirmed").count() == 1
    # Pressed again (another click, a request of its own): the service refuses, in private.
    again = press(posted, ROB, "rollback_confirm", str(proposal.pk))
    again["actions"][0]["action_ts"] = "1765000101.000300"
    signed(client, again)
    assert "requested" in slack.called("chat.postEphemeral")[-1]["text"]
    assert AuditEvent.objects.filter(action="rollback.confirmed").count() == 1


def test_a_rollback_owner_dismisses_the_proposal_with_a_reason(
    client, slack, posted, incident, rollback_owner, earlier
):
    proposal = propose(incident)
    signed(client, press(posted, ROB, "rollback_dismiss", str(proposal.pk)))
    view = opened_view(slack)
    assert signed(client, submit(view, ROB, "")).json()["response_action"] == "errors"
    assert signed(client, submit(view, ROB, "A known batch job")).json() == {
        "response_action": "clear"
    }
    proposal.refresh_from_db()
    assert proposal.status == RollbackStatus.DISMISSED and proposal.error == "A known batch job"


def test_a_button_on_a_message_failsafe_did_not_post_does_nothing(
    client, slack, posted, incident, earlier
):
    posted.ts = "1111111111.000001"
    assert signed(client, press(posted, ROB, "rollback_now", str(incident.pk))).status_code == 200
    assert not slack.calls[1:]  # no users.info, no dialog, after the first post


def test_a_dialog_slack_would_not_open_is_said_and_nothing_is_done(
    client, slack, posted, incident, rollback_owner, earlier
):
    payload = press(posted, ROB, "rollback_now", str(incident.pk))
    payload["trigger_id"] = "expired"
    assert signed(client, payload).status_code == 200
    (told,) = slack.called("chat.postEphemeral")
    assert told["user"] == ROB and told["text"] == SLACK_FAILED
    assert not RollbackRequest.objects.exists()


@pytest.mark.parametrize(
    "change",
    [{"actions": {"action_id": "rollback_now"}}, {"actions": []}, {"container": "C1"},
     {"type": "shortcut"}, {"type": "view_submission", "view": "V1"}],
)  # fmt: skip
def test_a_signed_payload_of_an_odd_shape_does_nothing(  # type: ignore[no-untyped-def]
    client, slack, posted, incident, change
):
    payload = {**press(posted, ROB, "rollback_now", str(incident.pk)), **change}
    assert signed(client, payload).status_code == 200
    assert not slack.calls[1:] and not RollbackRequest.objects.exists()


def test_a_payload_that_is_not_slacks_is_a_400(client, slack):
    body = "payload=not-json"
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    response = client.post(
        ENDPOINT, data=body, content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=f"v0={digest.hexdigest()}",
    )  # fmt: skip
    assert response.status_code == 400


# ---- the system's form ----------------------------------------------------------------------


def test_owners_set_the_token_and_channel_and_the_token_is_never_shown(client, fraud, owner):
    governance.update_system(
        actor=owner, system=fraud, name=fraud.name, slug=fraud.slug,
        intended_purpose=fraud.intended_purpose, risk_category=fraud.risk_category,
        slack_bot_token=TOKEN, slack_channel_id="c0fraudinc",
    )  # fmt: skip
    fraud.refresh_from_db()
    assert fraud.slack_bot_token == TOKEN and fraud.slack_channel_id == CHANNEL
    event = AuditEvent.objects.filter(action="system.updated").latest("id")
    assert event.after["posts_to_slack"] is True and TOKEN not in json.dumps(event.after)
    client.force_login(owner)
    page = client.get(f"/systems/{fraud.slug}/edit/").content.decode()
    assert TOKEN not in page and CHANNEL in page and 'data-testid="slack-on"' in page


@pytest.mark.parametrize(
    ("token", "channel", "field"),
    [("xoxp-user-token", CHANNEL, "slack_bot_token"), (TOKEN, "#fraud", "slack_channel_id"),
     (TOKEN, "", "slack_channel_id")],
)  # fmt: skip
def test_a_wrong_token_or_channel_is_refused_by_field(client, fraud, owner, token, channel, field):  # type: ignore[no-untyped-def]
    client.force_login(owner)
    page = client.get(f"/systems/{fraud.slug}/edit/")
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(slack_bot_token=token, slack_channel_id=channel)
    response = client.post(f"/systems/{fraud.slug}/edit/", data)
    assert response.status_code == 400 and field in response.context["form"].errors
    fraud.refresh_from_db()
    assert not fraud.slack_bot_token and not fraud.slack_channel_id


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in this process when sent: the rollback, then the message's updates."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_press_runs_the_rollback_and_the_tasks_bring_the_message_to_verified(
    client, slack, posted, incident, rollback_owner, earlier, eager,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    signed(client, press(posted, ROB, "rollback_now", str(incident.pk)))
    with django_capture_on_commit_callbacks(execute=True):
        response = signed(client, submit(opened_view(slack), ROB, "Review rate 3x"))
    assert response.json() == {"response_action": "clear"}
    request = RollbackRequest.objects.get()
    assert request.status == RollbackStatus.SUCCEEDED
    said = [json.dumps(call["blocks"], ensure_ascii=False) for call in slack.called("chat.update")]
    # Each step's task reads the incident as it is then: here the rollback ran at once.
    assert "Rollback verified: 2.0.0 → *1.9.0*" in said[-1]
    assert all(call["ts"] == posted.ts for call in slack.called("chat.update"))
    assert len(slack.called("chat.postMessage")) == 1

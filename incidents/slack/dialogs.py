"""The modals a button opens (views.open with the press's trigger_id): what pressing would do,
said before it is done, with the reason the services ask for."""

from __future__ import annotations

import json
from typing import Any

from incidents.models import Incident
from releases.models import RollbackRequest
from releases.rollbacks import RollbackChoice

ROLL_BACK_DIALOG = "rollback_now_dialog"
DISMISS_DIALOG = "rollback_dismiss_dialog"
REASON_BLOCK, REASON_ACTION = "reason", "reason_input"
REASON_MOST = 500


def _reason_input(label: str, placeholder: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": REASON_BLOCK,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": REASON_ACTION,
            "multiline": True,
            "max_length": REASON_MOST,
            "placeholder": {"type": "plain_text", "text": placeholder},
        },
    }


def roll_back_dialog(incident: Incident, choice: RollbackChoice) -> dict[str, Any]:
    """ROLL BACK NOW's confirmation: the release that goes live and the one it replaces, as
    the war room shows them; sent back (private_metadata) as the press's expected releases,
    so that what was confirmed is what happens."""
    assert choice.target is not None
    live = choice.live.version if choice.live else "nothing"
    target = choice.target.version
    environment = incident.environment.name if incident.environment else ""
    if choice.restoring:
        said = (f"The backend reports *{choice.observed}* in {environment}, which Failsafe did "
                f"not put live: *{target}*, the approved release, goes back live.")  # fmt: skip
    else:
        further = " further" if choice.further else ""
        said = (f"Rolls back{further} {environment}: *{target}* goes live, replacing "
                f"*{live}*.")  # fmt: skip
    metadata = {"incident": incident.pk, "from": live if choice.live else "",
                "to": target, "further": choice.further}  # fmt: skip
    return {
        "type": "modal",
        "callback_id": ROLL_BACK_DIALOG,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "ROLL BACK NOW"},
        "submit": {"type": "plain_text", "text": f"Roll back to {target}"[:24]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": said}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                f"INC-{incident.pk}: {incident.title}. Recorded in the audit trail as yours."
            )[:3000]}]},
            _reason_input("Why roll back", "What you see: the alert, the metric, the harm"),
        ],
    }  # fmt: skip


def dismiss_dialog(incident: Incident, rollback: RollbackRequest) -> dict[str, Any]:
    version = rollback.to_release.version
    return {
        "type": "modal",
        "callback_id": DISMISS_DIALOG,
        "private_metadata": json.dumps({"incident": incident.pk, "request": rollback.pk}),
        "title": {"type": "plain_text", "text": "Dismiss the proposal"},
        "submit": {"type": "plain_text", "text": "Dismiss"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                f"The rollback plan proposed rolling back to *{version}*. Dismissed, it does "
                "not run."
            )}},
            _reason_input("Why dismiss it", "Why the evidence does not call for a rollback"),
        ],
    }  # fmt: skip


def reason_of(view: dict[str, Any]) -> str:
    values = ((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}
    value = (values.get(REASON_ACTION) or {}).get("value")
    return value.strip() if isinstance(value, str) else ""

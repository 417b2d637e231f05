"""The Web API client of a system's Slack app, and what its errors mean for a retry."""

from __future__ import annotations

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from governance.limits import shorten
from governance.models import AISystem
from incidents.integrations import ChannelError


class SlackError(ChannelError):
    """Slack did not take the call."""


def client_for(system: AISystem) -> WebClient:
    """The system's bot, on SLACK_API_URL. No retries inside the call: a worker must not
    sleep on a 429, its task retries instead."""
    return WebClient(
        token=system.slack_bot_token or None,
        base_url=settings.SLACK_API_URL,
        timeout=settings.SLACK_TIMEOUT_SECONDS,
        retry_handlers=[],
    )


def explain(error: Exception) -> SlackError:
    """A Slack failure as a retry decides: rate limits, 5xx and the network are transient;
    an answer such as channel_not_found or invalid_auth is not (the owners must fix it)."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = response.status_code
        said = response.get("error") if isinstance(response.data, dict) else None
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return SlackError(
            f"Slack answered {status}: {said or shorten(str(response.data), 300)}",
            transient=status == 429 or status >= 500,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    return SlackError(f"Slack could not be reached: {shorten(str(error), 300)}", transient=True)

"""The Web API client of a system's Slack app, and what its errors mean for a retry."""

from __future__ import annotations

from typing import Any
from urllib.error import URLError
from urllib.request import Request

import httpx
from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from governance.egress import EgressRefused
from governance.limits import shorten
from governance.models import AISystem
from incidents.integrations import ChannelError
from releases.backends.http import http_client


class SlackError(ChannelError):
    """Slack did not take the call."""


class GuardedWebClient(WebClient):
    """slack_sdk's WebClient (its methods, arguments and SlackApiError) sending on the
    process's HTTP client instead of urllib: connections only where the egress policy allows,
    no proxy from the environment, no redirect followed, kept alive between calls.

    It replaces the one method that opens the URL (slack_sdk 3.47, pinned); the network's
    failures stay urllib's (URLError, an OSError) for the callers that catch those, and a
    refused address raises governance.egress.EgressRefused."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        headers = {name: str(value) for name, value in req.header_items()}
        try:
            response = http_client().request(
                req.get_method(), url, content=req.data,  # type: ignore[arg-type]
                headers=headers, timeout=self.timeout,
            )  # fmt: skip
        except httpx.TransportError as error:
            raise URLError(error) from error
        # What urllib's path gives slack_sdk: status, headers, text (any status: a non-200
        # becomes SlackApiError in SlackResponse.validate, as after urllib's HTTPError).
        return {"status": response.status_code, "headers": response.headers,
                "body": response.text}  # fmt: skip


def client_for(system: AISystem) -> WebClient:
    """The system's bot, on SLACK_API_URL. No retries inside the call: a worker must not
    sleep on a 429, its task retries instead."""
    return GuardedWebClient(
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
    if isinstance(error, EgressRefused):
        return SlackError(f"Slack was not called: {error}.", transient=False)
    return SlackError(f"Slack could not be reached: {shorten(str(error), 300)}", transient=True)

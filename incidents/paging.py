"""Paging PagerDuty for a serious incident, through its Events API v2.

A system whose owners set a PagerDuty integration key pages for its incidents of the
severities in PAGE_SEVERITIES (SEV1 and SEV2 unless set) while they are being handled
(detected, containment, rollback): one page per incident under one dedup key, triggered
when the incident becomes one to page for, sent again as it changes (a rollback proposed,
requested, verified: PagerDuty adds each to the same alert), and resolved when it reaches
recovery, is closed or drops below the severities.

The services call `page_soon` once their transaction committed: the page is a task of its
own, so a PagerDuty that is down, slow or hung never holds up a press, an alert or a
rollback. The task retries with backoff and full jitter (never sooner than a Retry-After).

Sent with the project's HTTP client (releases.backends.http: one kept-alive client per
process, redirects never followed) rather than PagerDuty's Python client: that
client retries inside the call, sleeping (without end on a 429), where a worker must not
wait; the event is one documented POST, and the task does the retrying.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from governance.egress import EgressRefused
from governance.limits import ERROR, shorten
from incidents.integrations import ChannelError, sync_after_commit
from incidents.models import Incident, IncidentRollback, Page, PageStatus, Stage
from releases.backends.http import http_client
from releases.models import RollbackStatus

logger = logging.getLogger(__name__)

PAGED_STAGES = frozenset({Stage.DETECTED, Stage.CONTAINMENT, Stage.ROLLBACK})
# PagerDuty's severities, by Failsafe's.
PAGER_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
SUMMARY = 1024  # PagerDuty cuts a longer summary; cut here, where it reads well


class PagingError(ChannelError):
    """PagerDuty did not accept the event."""


def page_soon(incident: Incident) -> None:
    """After this transaction commits, bring the incident's page in line with it (a task),
    if its system pages at all."""
    if not incident.system.pagerduty_routing_key:
        return
    from incidents.tasks import page_incident

    sync_after_commit(page_incident, incident.pk, "page")


def dedup_key(incident: Incident) -> str:
    return f"failsafe-incident-{incident.pk}"


def pages_for(incident: Incident) -> bool:
    return (
        incident.severity in settings.PAGE_SEVERITIES
        and incident.stage in PAGED_STAGES
        and bool(incident.system.pagerduty_routing_key)
    )


def sync_page(*, incident_id: int) -> str:
    """Trigger (again) or resolve the incident's page as it now stands: "triggered",
    "resolved" or "quiet". Raises PagingError when PagerDuty did not accept the event."""
    incident = Incident.objects.select_related("system", "environment", "live_release").get(
        pk=incident_id
    )
    page = Page.objects.filter(incident=incident).first()
    key = incident.system.pagerduty_routing_key
    now = timezone.now()
    if pages_for(incident):
        try:
            send_event(trigger_event(incident, key))
        except PagingError as error:
            _note_error(page, error)
            raise
        Page.objects.update_or_create(
            incident=incident,
            defaults={"status": PageStatus.TRIGGERED, "sent_at": now, "resolved_at": None,
                      "error": ""},
            create_defaults={"dedup_key": dedup_key(incident), "status": PageStatus.TRIGGERED,
                             "triggered_at": now, "sent_at": now},
        )  # fmt: skip
        return "triggered"
    if page is not None and page.status == PageStatus.TRIGGERED:
        if key:  # a key removed since: PagerDuty cannot be told any more
            try:
                send_event({"routing_key": key, "event_action": "resolve",
                            "dedup_key": page.dedup_key})  # fmt: skip
            except PagingError as error:
                _note_error(page, error)
                raise
        page.status, page.resolved_at, page.sent_at, page.error = (
            PageStatus.RESOLVED, now, now, ""
        )  # fmt: skip
        page.save(update_fields=["status", "resolved_at", "sent_at", "error"])
        return "resolved"
    return "quiet"


def trigger_event(incident: Incident, routing_key: str) -> dict[str, Any]:
    """The Events API v2 trigger for the incident: what an on-call lead reads on the phone."""
    system, environment = incident.system, incident.environment
    war_room = settings.SITE_URL + incident.get_absolute_url()
    details: dict[str, Any] = {
        "incident": f"INC-{incident.pk}",
        "severity": incident.get_severity_display(),
        "stage": incident.get_stage_display(),
        "system": system.name,
        "environment": environment.name if environment else None,
        "live_release": incident.live_release.version if incident.live_release else None,
        "war_room": war_room,
    }
    rollback = _latest_rollback(incident)
    if rollback is not None and rollback.status == RollbackStatus.PROPOSED:
        details["rollback_proposed"] = {
            "from": rollback.from_release.version if rollback.from_release else None,
            "to": rollback.to_release.version,
            "evidence": rollback.trigger,
            "confirm": f"{war_room}#release",
        }
    elif rollback is not None:
        details["rollback"] = {
            "status": rollback.get_status_display(),
            "to": rollback.to_release.version,
        }
    where = f" in {environment.name}" if environment else ""
    summary = f"[{incident.severity.upper()}] {system.name}{where}: {incident.title}"
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(incident),
        "payload": {
            "summary": shorten(summary, SUMMARY),
            "source": f"failsafe/{system.slug}/{environment.slug if environment else '-'}",
            "severity": PAGER_SEVERITY[incident.severity],
            "timestamp": incident.detected_at.isoformat(),
            "component": environment.slug if environment else system.slug,
            "group": system.slug,
            "class": incident.category,
            "custom_details": details,
        },
        "links": [{"href": war_room, "text": f"War room INC-{incident.pk}"}],
        "client": "Failsafe",
        "client_url": war_room,
    }


def send_event(event: dict[str, Any]) -> None:
    """POST the event; PagerDuty accepts it with 202. 429 and 5xx and a network failure are
    transient (retried), any other answer is not (an unknown routing key, a bad event)."""
    try:
        # The operator's URL, on the guarded client all the same: a relay on an internal
        # network needs its network in BACKEND_ALLOWED_NETWORKS.
        response = http_client().post(
            settings.PAGERDUTY_EVENTS_URL, json=event, timeout=settings.PAGERDUTY_TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        raise PagingError(f"PagerDuty could not be reached: {error}", transient=True) from error
    except EgressRefused as error:  # PAGERDUTY_EVENTS_URL on an internal network not allowed
        raise PagingError(f"PagerDuty was not called: {error}.", transient=False) from error
    if response.status_code == 202:
        return
    said = shorten(response.text, 500)
    transient = response.status_code == 429 or response.status_code >= 500
    raise PagingError(
        f"PagerDuty answered {response.status_code}: {said}",
        transient=transient,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _latest_rollback(incident: Incident) -> Any:
    link = (
        IncidentRollback.objects.filter(incident=incident)
        .select_related("request__from_release", "request__to_release")
        .order_by("-id")
        .first()
    )
    return link.request if link else None


def _note_error(page: Page | None, error: PagingError) -> None:
    logger.warning("page not sent: %s", error)
    if page is not None:
        Page.objects.filter(pk=page.pk).update(error=shorten(str(error), ERROR))

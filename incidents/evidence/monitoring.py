"""What incidents contribute to the auditor's questions: how a release was monitored after
launch — the alerts received, the incidents opened, the rollbacks made and how they ended.

Registered with `governance.evidence.questions` by `incidents.evidence.register()`. Answers
are read in a fixed number of queries (see `governance.evidence.questions.answer_all` for the
shape).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Prefetch, Q, QuerySet

from governance.evidence import questions as registry
from governance.evidence.questions import Params
from incidents.models import Alert, AlertStatus, Incident, IncidentRollback, PostMortem, Stage
from releases.evidence import shared as release_evidence
from releases.models import Deployment, Release, RollbackRequest, RollbackStatus

if TYPE_CHECKING:
    from governance.models import AISystem


Answer = dict[str, Any]

ALERT_LIMIT = 200  # the newest alerts listed; the summary counts them all


def _alert(alert: Alert) -> Answer:
    return {
        "id": alert.pk,
        "name": alert.name,
        "severity": alert.severity,
        "status": alert.status,
        "environment": alert.environment.slug if alert.environment else None,
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "received_at": alert.received_at,
        "incident": alert.incident_id,
    }


def _incident(incident: Incident) -> Answer:
    postmortem: PostMortem | None = getattr(incident, "postmortem", None)
    return {
        "id": incident.pk,
        "title": incident.title,
        "url": incident.get_absolute_url(),
        "severity": incident.severity,
        "severity_label": incident.get_severity_display(),
        "category": incident.category,
        "category_label": incident.get_category_display(),
        "stage": incident.stage,
        "stage_label": incident.get_stage_display(),
        "environment": incident.environment.slug if incident.environment else None,
        "source": incident.source,
        "detected_at": incident.detected_at,
        "contained_at": incident.contained_at,
        "rolled_back_at": incident.rolled_back_at,
        "recovered_at": incident.recovered_at,
        "closed_at": incident.closed_at,
        "live_release": incident.live_release.version if incident.live_release else None,
        "is_serious": incident.is_serious,
        "postmortem_published": bool(postmortem and postmortem.published_at),
        "rollbacks": sorted(link.request_id for link in incident.rollbacks.all()),
    }


def _rollback(request: RollbackRequest) -> Answer:
    link: IncidentRollback | None = getattr(request, "incident_link", None)
    return {
        **release_evidence.rollback_record(request),
        "incident": link.incident_id if link else None,
    }


def _live_windows(release: Release, start: datetime, end: datetime) -> list[Answer]:
    """Each deployment period of the release within [start, end): where, from, until."""
    periods = (
        Deployment.objects.filter(release_evidence.overlapping(start, end), release=release)
        .select_related("environment")
        .order_by("started_at", "id")
    )
    return [
        {
            "environment_id": period.environment_id,
            "environment": period.environment.name,
            "start": max(start, period.started_at),
            "end": min(end, period.ended_at) if period.ended_at else end,
            "still_live": period.ended_at is None or period.ended_at >= end,
        }
        for period in periods
    ]


def _in_windows(windows: list[Answer]) -> Q | None:
    """Alerts received in an environment while the release was live there."""
    condition: Q | None = None
    for window in windows:
        inside = Q(
            environment_id=window["environment_id"],
            received_at__gte=window["start"],
            received_at__lt=window["end"],
        )
        condition = inside if condition is None else condition | inside
    return condition


def monitoring(system: AISystem, start: datetime, end: datetime, release: Release | None) -> Answer:
    alerts: QuerySet[Alert] = Alert.objects.filter(
        system=system, received_at__gte=start, received_at__lt=end
    )
    incidents: QuerySet[Incident] = Incident.objects.filter(
        system=system, detected_at__gte=start, detected_at__lt=end
    )
    rollbacks: QuerySet[RollbackRequest] = release_evidence.rollbacks_queryset().filter(
        environment__system=system,
        is_drill=False,
        requested_at__gte=start,
        requested_at__lt=end,
        status__in=release_evidence.ROLLBACKS_DONE_OR_UNDER_WAY,
    )
    windows = _live_windows(release, start, end) if release is not None else []
    if release is not None:
        inside = _in_windows(windows)
        alerts = alerts.filter(inside) if inside is not None else alerts.none()
        incidents = incidents.filter(live_release=release)
        rollbacks = rollbacks.filter(from_release=release)

    counts = alerts.aggregate(
        total=Count("pk"), firing=Count("pk", filter=Q(status=AlertStatus.FIRING))
    )
    listed = list(
        alerts.select_related("environment").order_by("-received_at", "-id")[:ALERT_LIMIT]
    )
    incident_rows = [
        _incident(i)
        for i in incidents.select_related("environment", "live_release", "postmortem")
        .prefetch_related(Prefetch("rollbacks", queryset=IncidentRollback.objects.only(
            "id", "incident_id", "request_id")))
        .order_by("detected_at", "id")
    ]  # fmt: skip
    rollback_rows = [_rollback(r) for r in rollbacks.select_related("incident_link")]
    finished = [
        r["minutes_to_finish"]
        for r in rollback_rows
        if r["status"] == RollbackStatus.SUCCEEDED and r["minutes_to_finish"] is not None
    ]
    return {
        "release": release_evidence.release_ref(release) if release is not None else None,
        "start": start,
        "end": end,
        # With a release: its deployment periods within the period, exactly.
        "live_windows": [
            {key: value for key, value in window.items() if key != "environment_id"}
            for window in windows
        ],
        "summary": {
            "alerts": counts["total"],
            "alerts_firing": counts["firing"],
            "incidents": len(incident_rows),
            "incidents_open": sum(i["stage"] != Stage.CLOSED for i in incident_rows),
            "serious_incidents": sum(i["is_serious"] for i in incident_rows),
            "rollbacks": len(rollback_rows),
            "rollbacks_succeeded": sum(
                r["status"] == RollbackStatus.SUCCEEDED for r in rollback_rows
            ),
            "rollbacks_failed": sum(r["status"] == RollbackStatus.FAILED for r in rollback_rows),
            "median_minutes_to_rollback": round(statistics.median(finished), 2)
            if finished
            else None,
        },
        "alerts": [_alert(a) for a in listed],
        "alerts_truncated": counts["total"] > len(listed),
        "incidents": incident_rows,
        "rollbacks": rollback_rows,
    }


def answer_monitoring(system: AISystem, params: Params) -> Answer:
    """For the release named (else the whole system), over the period (else the last 90 days)."""
    start, end = registry.period_of(params)
    release = None
    if params.release is not None:
        release = release_evidence.find_release(
            system, params.release, release_evidence.with_stack(Release.objects.all())
        )
    return monitoring(system, start, end, release)


def answer_monitoring_period(system: AISystem, start: datetime, end: datetime) -> Answer:
    return monitoring(system, start, end, None)

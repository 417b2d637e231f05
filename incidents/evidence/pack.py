"""What incidents contribute to an evidence pack: alerts, incidents with their timelines,
containment, serious-incident reports, post-mortems and action items, and the report's
charts of incidents per week and time to rollback.

Registered with governance from IncidentsConfig.ready(); rows are read with
`.iterator(chunk_size=…)` so a section never sits whole in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack.sections import (
    Chart,
    Document,
    Section,
    register_chart,
    register_document,
    register_section,
    username_of,
)
from incidents.art73 import (
    first_report_at,
    reported_in_time,
    reported_under_article_73,
    reporting_clock,
    sector_limit,
)
from incidents.evidence.monitoring_plan import monitoring_plan, plan_blocks
from incidents.models import (
    ActionItem,
    Alert,
    ContainmentAction,
    Incident,
    IncidentRole,
    IncidentRollback,
    PostMortem,
    TimelineEntry,
)
from releases.models import RollbackStatus

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem

CHUNK = 500


def incidents_in(system: AISystem, period: PackPeriod) -> QuerySet[Incident]:
    """Incidents open at any moment of the period: detected before its end, not closed before
    its start."""
    return Incident.objects.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=period.since),
        system=system,
        detected_at__lt=period.until,
    )


def _incident_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    incidents = (
        incidents_in(system, period)
        .select_related("environment", "live_release", "declared_by")
        .prefetch_related(
            Prefetch("roles", queryset=IncidentRole.objects.select_related("user")),
            "rollbacks",
        )
        .order_by("detected_at", "id")
    )
    for incident in incidents.iterator(chunk_size=CHUNK):
        yield {
            "id": incident.pk,
            "title": incident.title,
            "severity": incident.severity,
            "category": incident.category,
            "source": incident.source,
            "stage": incident.stage,
            "skipped_stages": list(incident.skipped_stages),
            "environment": incident.environment.slug if incident.environment else None,
            "live_release_version": incident.live_release.version
            if incident.live_release
            else None,
            "declared_by": username_of(incident.declared_by) or "alert",
            "detected_at": incident.detected_at,
            "acknowledged_at": incident.acknowledged_at,
            "contained_at": incident.contained_at,
            "rolled_back_at": incident.rolled_back_at,
            "recovered_at": incident.recovered_at,
            "reviewed_at": incident.reviewed_at,
            "closed_at": incident.closed_at,
            "summary": incident.summary,
            "is_serious": incident.is_serious,
            "roles": [
                {
                    "role": role.role,
                    "user": username_of(role.user),
                    "assigned_at": role.assigned_at,
                    "ended_at": role.ended_at,
                }
                for role in incident.roles.all()
            ],
            "rollback_ids": sorted(link.request_id for link in incident.rollbacks.all()),
            "release_snapshot": incident.release_snapshot,
            "rollback_plan_snapshot": incident.plan_snapshot,
        }


def _timeline_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    entries = TimelineEntry.objects.filter(incident__in=incidents_in(system, period)).order_by(
        "incident_id", "occurred_at", "id"
    )
    for entry in entries.iterator(chunk_size=CHUNK):
        yield {
            "id": entry.pk,
            "incident_id": entry.incident_id,
            "kind": entry.kind,
            "occurred_at": entry.occurred_at,
            "actor": entry.actor_name,
            "body": entry.body,
            "data": entry.data,
        }


def _containment_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    actions = (
        ContainmentAction.objects.filter(incident__in=incidents_in(system, period))
        .select_related("requested_by", "done_by")
        .order_by("requested_at", "id")
    )
    for action in actions.iterator(chunk_size=CHUNK):
        yield {
            "id": action.pk,
            "incident_id": action.incident_id,
            "kind": action.kind,
            "target": action.target,
            "status": action.status,
            "requested_by": username_of(action.requested_by),
            "requested_at": action.requested_at,
            "done_by": username_of(action.done_by),
            "done_at": action.done_at,
            "undone_at": action.undone_at,
        }


def _alert_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    alerts = (
        Alert.objects.filter(
            system=system, received_at__gte=period.since, received_at__lt=period.until
        )
        .select_related("environment")
        .order_by("received_at", "id")
    )
    for alert in alerts.iterator(chunk_size=CHUNK):
        yield {
            "id": alert.pk,
            "incident_id": alert.incident_id,
            "source": alert.source,
            "name": alert.name,
            "status": alert.status,
            "severity": alert.severity,
            "fingerprint": alert.fingerprint,
            "environment": alert.environment.slug if alert.environment else None,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "received_at": alert.received_at,
        }


def serious_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    incidents = (
        incidents_in(system, period)
        .filter(is_serious=True)
        .prefetch_related("authority_notifications", "operator_notices")
        .order_by("detected_at", "id")
    )
    now = timezone.now()  # a report not sent by a deadline passed at export time was late
    limit = sector_limit(system)
    for incident in incidents.iterator(chunk_size=CHUNK):
        incident.system = system  # the one system of the pack, read once
        clock = reporting_clock(incident)
        yield {
            "incident_id": incident.pk,
            "title": incident.title,
            "harm_categories": incident.harm_categories,
            "involves_death": incident.involves_death,
            "widespread_infringement": incident.widespread_infringement,
            "aware_at": incident.aware_at,
            "article": clock.citation if clock else None,
            "deadline": clock.deadline if clock else None,
            "initial_report_sent_at": incident.initial_report_sent_at,
            "complete_report_sent_at": incident.complete_report_sent_at,
            "first_report_sent_at": first_report_at(incident),
            "causal_link_at": incident.causal_link_at,
            "authorities_notified": "; ".join(
                f"{'complete' if n.complete else 'initial'} report to {n.authority} "
                f"({n.member_state}) at {n.sent_at.isoformat()}"
                + (f", reference {n.reference}" if n.reference else "")
                for n in incident.authority_notifications.all()
            ),
            "operators_informed": "; ".join(
                f"{n.get_recipient_display()} {n.name} at {n.sent_at.isoformat()}"
                + (f", reference {n.reference}" if n.reference else "")
                for n in incident.operator_notices.all()
            ),
            "operator_role": system.operator_role,
            "reported_under": (
                "AI Act, Art. 73"
                if reported_under_article_73(incident)
                else f"sector legislation ({limit['article'] if limit else ''})"
            ),
            "reported_in_time": reported_in_time(incident, now),
        }


POSTMORTEM_TEXT = (
    "summary", "impact", "root_cause_code", "root_cause_model", "root_cause_data",
    "contributing_factors", "detection_gaps", "went_well", "went_badly",
)  # fmt: skip


def _postmortem_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    reviews = (
        PostMortem.objects.filter(incident__in=incidents_in(system, period))
        .select_related("published_by")
        .order_by("incident_id")
    )
    for review in reviews.iterator(chunk_size=CHUNK):
        yield {
            "incident_id": review.incident_id,
            **{name: getattr(review, name) for name in POSTMORTEM_TEXT},
            "updated_at": review.updated_at,
            "published_at": review.published_at,
            "published_by": username_of(review.published_by),
        }


def _action_item_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    items = (
        ActionItem.objects.filter(incident__in=incidents_in(system, period))
        .select_related("owner")
        .order_by("incident_id", "id")
    )
    for item in items.iterator(chunk_size=CHUNK):
        yield {
            "id": item.pk,
            "incident_id": item.incident_id,
            "title": item.title,
            "owner": username_of(item.owner),
            "due_date": item.due_date,
            "status": item.status,
            "created_at": item.created_at,
        }


def incidents_per_week(system: AISystem, period: PackPeriod) -> list[tuple[str, float]]:
    """Incidents detected each week (Monday to Sunday) of the period, empty weeks included."""
    counts = Counter(
        (detected.date() - timedelta(days=detected.weekday()))
        for detected in Incident.objects.filter(
            system=system, detected_at__gte=period.since, detected_at__lt=period.until
        ).values_list("detected_at", flat=True)
    )
    monday = period.first_day - timedelta(days=period.first_day.weekday())
    points = []
    while monday <= period.last_day:
        points.append((monday.isoformat(), float(counts.get(monday, 0))))
        monday += timedelta(days=7)
    return points


def time_to_rollback(system: AISystem, period: PackPeriod) -> list[tuple[str, float]]:
    """Minutes from detection to the first verified rollback, per incident of the period."""
    links = (
        IncidentRollback.objects.filter(
            incident__in=incidents_in(system, period),
            request__status=RollbackStatus.SUCCEEDED,
            request__finished_at__isnull=False,
        )
        .order_by("incident__detected_at", "incident_id", "request__finished_at")
        .values_list("incident_id", "incident__detected_at", "request__finished_at")
    )
    first: dict[int, float] = {}
    for pk, detected, finished in links:
        assert finished is not None  # filtered above
        first.setdefault(pk, round((finished - detected).total_seconds() / 60, 1))
    return [(f"INC-{pk}", minutes) for pk, minutes in first.items()]


SECTIONS = [
    Section(
        "alerts", EvidenceKind.ALERT, "Monitoring alerts", order=20, rows=_alert_rows,
        description="Alerts received during the period, as monitoring sent them.",
        columns=("id", "incident_id", "source", "name", "status", "severity", "fingerprint",
                 "environment", "labels", "annotations", "starts_at", "ends_at", "received_at"),
    ),
    Section(
        "incidents", EvidenceKind.INCIDENT, "Incidents", order=30, rows=_incident_rows,
        description="Incidents open at any time during the period, with their roles and the "
        "release and rollback plan in force when they were declared.",
        columns=("id", "title", "severity", "category", "source", "stage", "skipped_stages",
                 "environment", "live_release_version", "declared_by", "detected_at",
                 "acknowledged_at", "contained_at", "rolled_back_at", "recovered_at",
                 "reviewed_at", "closed_at", "summary", "is_serious", "roles", "rollback_ids",
                 "release_snapshot", "rollback_plan_snapshot"),
    ),
    Section(
        "timeline_entries", EvidenceKind.TIMELINE_ENTRY, "Incident timelines", order=31,
        rows=_timeline_rows,
        description="Every timeline entry of those incidents.",
        columns=("id", "incident_id", "kind", "occurred_at", "actor", "body", "data"),
    ),
    Section(
        "containment_actions", EvidenceKind.CONTAINMENT_ACTION, "Containment actions",
        order=32, rows=_containment_rows,
        description="Containment actions taken in those incidents.",
        columns=("id", "incident_id", "kind", "target", "status", "requested_by",
                 "requested_at", "done_by", "done_at", "undone_at"),
    ),
    Section(
        "serious_incident_reports", EvidenceKind.SERIOUS_INCIDENT_REPORT,
        "Serious-incident reports (EU AI Act Art. 73)", order=50, rows=serious_rows,
        description="Serious incidents, their reporting deadline and when they were reported.",
        columns=("incident_id", "title", "harm_categories", "involves_death",
                 "widespread_infringement", "aware_at", "article", "deadline",
                 "initial_report_sent_at", "complete_report_sent_at", "first_report_sent_at",
                 "reported_in_time", "causal_link_at", "authorities_notified",
                 "operator_role", "operators_informed", "reported_under"),
    ),
    Section(
        "postmortems", EvidenceKind.POSTMORTEM, "Post-mortems", order=51, rows=_postmortem_rows,
        description="The blameless review of each of those incidents.",
        columns=("incident_id", *POSTMORTEM_TEXT, "updated_at", "published_at", "published_by"),
    ),
    Section(
        "action_items", EvidenceKind.ACTION_ITEM, "Post-mortem action items", order=52,
        rows=_action_item_rows,
        description="Follow-up action items of those incidents, with owners and due dates.",
        columns=("id", "incident_id", "title", "owner", "due_date", "status", "created_at"),
    ),
]  # fmt: skip

CHARTS = [
    Chart("incidents_per_week", "Incidents per week", "incidents", incidents_per_week, order=10,
          note="Incidents detected each week of the period (weeks start on Monday)."),
    Chart("time_to_rollback", "Time to rollback", "minutes", time_to_rollback, order=20,
          note="Minutes from detection to the rollback verified live, per incident rolled back."),
]  # fmt: skip


def register() -> None:
    for section in SECTIONS:
        register_section(section)
    for chart in CHARTS:
        register_chart(chart)
    register_document(
        Document(
            "post_market_monitoring_plan",
            "Post-market monitoring plan (EU AI Act Art. 72)",
            tab="Monitoring plan",
            build=monitoring_plan,
            blocks=plan_blocks,
            description="The system's post-market monitoring plan (Art. 72(3)), generated from "
            "its rollback plans' triggers, its drills, its alert sources and its reviews.",
        )
    )

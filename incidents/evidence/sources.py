"""The evidence incidents hold for a period: alerts, incidents, timelines, containment,
serious-incident reports, post-mortems and action items, counted in one query for the control
mapping's coverage, with the page where a person can look at each kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q
from django.urls import reverse

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from incidents.models import (
    ActionItem,
    Alert,
    ContainmentAction,
    Incident,
    PostMortem,
    TimelineEntry,
)

if TYPE_CHECKING:
    from governance.models import AISystem


def evidence_counts(system: AISystem, start: datetime, end: datetime) -> dict[EvidenceKind, int]:
    """What this app holds for the period, in one query. An incident counts if it was open
    at some moment of the period; its post-mortem and action items with it."""
    incidents = Incident.objects.filter(system=system, detected_at__lt=end).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=start)
    )
    sent_in_period = Q(initial_report_sent_at__gte=start, initial_report_sent_at__lt=end) | Q(
        complete_report_sent_at__gte=start, complete_report_sent_at__lt=end
    )
    return registry.count_all(
        {
            EvidenceKind.ALERT: Alert.objects.filter(
                system=system, received_at__gte=start, received_at__lt=end
            ),
            EvidenceKind.INCIDENT: incidents,
            EvidenceKind.TIMELINE_ENTRY: TimelineEntry.objects.filter(
                incident__system=system, occurred_at__gte=start, occurred_at__lt=end
            ),
            EvidenceKind.CONTAINMENT_ACTION: ContainmentAction.objects.filter(
                incident__system=system, requested_at__gte=start, requested_at__lt=end
            ),
            EvidenceKind.SERIOUS_INCIDENT_REPORT: Incident.objects.filter(
                sent_in_period, system=system, is_serious=True
            ),
            EvidenceKind.POSTMORTEM: PostMortem.objects.filter(
                incident__in=incidents.values("pk"), published_at__isnull=False
            ),
            EvidenceKind.ACTION_ITEM: ActionItem.objects.filter(
                incident__in=incidents.values("pk")
            ),
        }
    )


def evidence_links(system: AISystem) -> dict[EvidenceKind, str]:
    incidents = reverse("incidents:incident-list") + f"?system={system.slug}"
    monitoring_page = reverse("governance:evidence-question", args=[system.slug, "monitoring"])
    return {
        EvidenceKind.ALERT: monitoring_page,
        EvidenceKind.INCIDENT: incidents,
        EvidenceKind.TIMELINE_ENTRY: incidents,
        EvidenceKind.CONTAINMENT_ACTION: incidents,
        EvidenceKind.SERIOUS_INCIDENT_REPORT: incidents,
        EvidenceKind.POSTMORTEM: incidents,
        EvidenceKind.ACTION_ITEM: reverse("incidents:action-items") + f"?system={system.slug}",
    }

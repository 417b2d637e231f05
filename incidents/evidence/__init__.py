"""What incidents contribute to the evidence: how a release was monitored after launch — the
alerts received, the incidents opened, the rollbacks made and how they ended — and the
evidence pack's incident sections, charts and post-market monitoring plan.

`register()`, called from IncidentsConfig.ready(), registers all of it with
`governance.evidence`: the pack's parts first, then the monitoring question (its answers,
page template and part of the report) and what evidence incidents hold.
"""

from __future__ import annotations

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.evidence.questions import PERIOD, RELEASE
from incidents.evidence import monitoring, pack, report, sources


def register() -> None:
    """Called from IncidentsConfig.ready(): the pack's sections, charts and monitoring plan,
    then the monitoring question and the evidence source."""
    pack.register()
    registry.register(
        registry.Question(
            key="monitoring",
            short="Monitoring",
            title="How was it monitored after launch?",
            summary="Alerts received, incidents opened, rollbacks made and how each ended — "
            "for one release while it was live, or for the whole system over a period.",
            order=40,
            inputs=(RELEASE, PERIOD),
            answer=monitoring.answer_monitoring,
            answer_period=monitoring.answer_monitoring_period,
            template="incidents/evidence/_answer_monitoring.html",
            report=report.report_monitoring,
            kinds=(EvidenceKind.ALERT, EvidenceKind.INCIDENT, EvidenceKind.ROLLBACK_REQUEST),
        )
    )
    registry.register_source(
        registry.EvidenceSource(
            name="incidents",
            kinds=(
                EvidenceKind.ALERT,
                EvidenceKind.INCIDENT,
                EvidenceKind.TIMELINE_ENTRY,
                EvidenceKind.CONTAINMENT_ACTION,
                EvidenceKind.SERIOUS_INCIDENT_REPORT,
                EvidenceKind.POSTMORTEM,
                EvidenceKind.ACTION_ITEM,
            ),
            count=sources.evidence_counts,
            links=sources.evidence_links,
        )
    )

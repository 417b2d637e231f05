"""The evidence governance itself holds: the system's inventory entry, its role grants and
its audit trail. Registered as an evidence source in GovernanceConfig.ready()."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.models import AISystem, AuditEvent, RoleGrant


def evidence_counts(system: AISystem, start: datetime, end: datetime) -> dict[EvidenceKind, int]:
    """The entry and the grants as they stand (their history is in the audit trail); the
    audit events of the period."""
    return registry.count_all(
        {
            EvidenceKind.SYSTEM_RECORD: AISystem.objects.filter(pk=system.pk),
            EvidenceKind.ROLE_GRANT: RoleGrant.objects.filter(system=system),
            EvidenceKind.AUDIT_EVENT: AuditEvent.objects.filter(
                system=system, occurred_at__gte=start, occurred_at__lt=end
            ),
        }
    )


def evidence_links(system: AISystem) -> dict[EvidenceKind, str]:
    return {
        EvidenceKind.SYSTEM_RECORD: system.get_absolute_url(),
        EvidenceKind.ROLE_GRANT: system.get_absolute_url() + "#roles-card",
        EvidenceKind.AUDIT_EVENT: reverse("governance:audit-list") + f"?system={system.slug}",
    }


def register() -> None:
    registry.register_source(
        registry.EvidenceSource(
            name="governance",
            kinds=(EvidenceKind.SYSTEM_RECORD, EvidenceKind.ROLE_GRANT, EvidenceKind.AUDIT_EVENT),
            count=evidence_counts,
            links=evidence_links,
        )
    )

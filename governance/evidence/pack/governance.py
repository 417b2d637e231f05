"""governance's own sections of an evidence pack: the inventory entry and who holds which role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack.sections import Section, register_section
from governance.models import RoleGrant

if TYPE_CHECKING:
    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem


def _system_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    yield {
        "id": system.pk,
        "name": system.name,
        "slug": system.slug,
        "intended_purpose": system.intended_purpose,
        "risk_category": system.risk_category,
        "created_at": system.created_at,
        "updated_at": system.updated_at,
    }


def _grant_rows(system: AISystem, period: PackPeriod) -> Iterator[dict[str, Any]]:
    # Roles held now; how they changed during the period is in the audit trail.
    grants = (
        RoleGrant.objects.filter(system=system)
        .select_related("user", "group", "granted_by")
        .order_by("role", "id")
    )
    for grant in grants.iterator(chunk_size=500):
        yield {
            "role": grant.role,
            "user": grant.user.get_username() if grant.user else None,
            "group": grant.group.name if grant.group else None,
            "granted_at": grant.granted_at,
            "granted_by": grant.granted_by.get_username() if grant.granted_by else None,
        }


SECTIONS = [
    Section(
        "system", EvidenceKind.SYSTEM_RECORD, "AI system record", order=1, rows=_system_rows,
        description="The inventory entry: intended purpose and EU AI Act risk category.",
        columns=("id", "name", "slug", "intended_purpose", "risk_category", "created_at",
                 "updated_at"),
    ),
    Section(
        "role_grants", EvidenceKind.ROLE_GRANT, "Role assignments", order=2, rows=_grant_rows,
        description="Who holds which role on the system at export time.",
        columns=("role", "user", "group", "granted_at", "granted_by"),
    ),
]  # fmt: skip


def register() -> None:
    for section in SECTIONS:
        register_section(section)

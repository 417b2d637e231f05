"""Exporting an evidence pack: who may, and the audit event every export leaves behind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from governance import audit
from governance.audit.context import current_request_id
from governance.evidence import sign
from governance.evidence.pack import EvidencePack
from governance.permissions import require
from governance.roles import Action

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.evidence.pack_period import PackPeriod
    from governance.models import AISystem, AuditEvent


def export_evidence_pack(
    *, actor: User | None, system: AISystem, period: PackPeriod
) -> EvidencePack:
    """The pack of `system` for `period`, ready to stream; iterating it to the end records
    the export. `actor` None is an operator at the server's command line.

    The permission and the signing key are checked now, before the first byte goes out: a
    refusal must be a clear answer, not a download broken half way.
    """
    if actor is not None:
        require(actor, Action.EXPORT_EVIDENCE, system)
    key = sign.signing_key()
    # The pack streams after the view has returned and the request's middleware has finished:
    # the export's audit event still carries the request id it was asked for under.
    request_id = current_request_id.get()

    def completed(pack: EvidencePack) -> None:
        token = current_request_id.set(request_id)
        try:
            record_evidence_export(actor=actor, pack=pack)
        finally:
            current_request_id.reset(token)

    return EvidencePack(
        system=system,
        period=period,
        exported_by=actor.get_username() if actor is not None else "command line",
        key=key,
        on_complete=completed,
    )


@transaction.atomic
def record_evidence_export(*, actor: User | None, pack: EvidencePack) -> AuditEvent:
    """Who exported which system's evidence for which period, and the manifest they got.

    Written once the whole pack has streamed, when the manifest's digest exists: a download
    abandoned half way delivered no evidence and records none.
    """
    if actor is not None:
        require(actor, Action.EXPORT_EVIDENCE, pack.system)
    segment = pack.segment
    return audit.record_event(
        actor=actor,
        action="evidence.exported",
        obj=pack.system,
        system=pack.system,
        after={
            "period": pack.period.as_json(),
            "manifest_sha256": pack.manifest_sha256,
            "files": len(pack.files) + 2,  # and the manifest and its signature
            "audit_events": segment.events if segment is not None else 0,
            "last_hash": segment.last_hash if segment is not None else None,
            "key_id": sign.key_id(pack.key.public_key()),
        },
    )

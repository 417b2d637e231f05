"""Exporting an evidence pack: who may, and the audit event every export leaves behind, made
or failed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction

from governance import audit
from governance.audit.context import current_credential, current_request_id
from governance.evidence import sign
from governance.evidence.pack.archive import EvidencePack
from governance.permissions import require
from governance.roles import Action

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User

    from governance.evidence.pack.period import PackPeriod
    from governance.models import AISystem, AuditEvent

logger = logging.getLogger(__name__)

REASON_LENGTH = 300


class EvidenceExportFailed(Exception):
    """The pack could not be made, and nothing of it was sent. The failure is in the audit
    trail (`evidence.export_failed`); `reason` says what went wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_reason(error: BaseException) -> str:
    """What went wrong, on one line and short enough for an audit event (a layout error, for
    one, quotes the content it could not place)."""
    detail = " ".join(str(error).split())
    if len(detail) > REASON_LENGTH:
        detail = detail[: REASON_LENGTH - 1] + "…"
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def export_evidence_pack(
    *, actor: User | None, system: AISystem, period: PackPeriod
) -> EvidencePack:
    """The pack of `system` for `period`, prepared and ready to stream; iterating it to the end
    records the export. `actor` None is an operator at the server's command line.

    The permission, the signing key and every part of the pack that can fail (the answers,
    the control mapping, the report's HTML and PDF) are settled now, before the first byte
    goes out: a failure must be a clear answer, not a download broken half way. A pack that
    cannot be made raises EvidenceExportFailed (SigningKeyMissing without a key) and is
    recorded as `evidence.export_failed`.
    """
    if actor is not None:
        require(actor, Action.EXPORT_EVIDENCE, system)
    # The pack streams after the view has returned and the request's middleware has finished:
    # the export's audit event still carries the request id it was asked for under, and the
    # credential it was asked with (an API token, HTTP Basic).
    request_id, credential = current_request_id.get(), current_credential.get()

    def in_request(record: Callable[[], object]) -> None:
        tokens = current_request_id.set(request_id), current_credential.set(credential)
        try:
            record()
        finally:
            current_credential.reset(tokens[1])
            current_request_id.reset(tokens[0])

    def failed(reason: str, *, sent_bytes: bool) -> None:
        try:
            in_request(lambda: record_evidence_export_failure(
                actor=actor, system=system, period=period, reason=reason, sent_bytes=sent_bytes,
            ))  # fmt: skip
        except Exception:  # the database that broke the export may refuse this too
            logger.exception("could not record the failed evidence export of %s", system.slug)

    try:
        key = sign.signing_key()
    except sign.SigningKeyMissing as error:
        failed(str(error), sent_bytes=False)
        raise

    def completed(pack: EvidencePack) -> None:
        in_request(lambda: record_evidence_export(actor=actor, pack=pack))

    def broke(pack: EvidencePack, error: BaseException) -> None:
        # The bytes already sent cannot be taken back: the download ends without a manifest
        # (the verifier refuses it), and the audit trail says why.
        failed(failure_reason(error), sent_bytes=True)

    pack = EvidencePack(
        system=system,
        period=period,
        exported_by=actor.get_username() if actor is not None else "command line",
        key=key,
        on_complete=completed,
        on_failure=broke,
    )
    try:
        pack.prepare()
    except Exception as error:
        reason = failure_reason(error)
        logger.exception("evidence export of %s failed before its first byte", system.slug)
        failed(reason, sent_bytes=False)
        raise EvidenceExportFailed(reason) from error
    return pack


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


@transaction.atomic
def record_evidence_export_failure(
    *, actor: User | None, system: AISystem, period: PackPeriod, reason: str, sent_bytes: bool
) -> AuditEvent:
    """An export asked for and not delivered: by whom, for which period, and why.

    `sent_bytes` False: the caller got an error and no file; True: the stream broke after it
    began, and what was downloaded has no manifest. The permission was checked when the
    export was asked for; a failure is recorded whatever happened to it since.
    """
    return audit.record_event(
        actor=actor,
        action="evidence.export_failed",
        obj=system,
        system=system,
        after={"period": period.as_json(), "reason": reason, "sent_bytes": sent_bytes},
    )

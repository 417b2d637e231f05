"""`manage.py export_evidence --system S --from D --to D -o pack.zip`: the signed evidence pack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.audit.context import current_credential
from governance.evidence.pack.period import parse_period
from governance.evidence.pack.services import EvidenceExportFailed, export_evidence_pack
from governance.evidence.sign import SigningKeyMissing
from governance.models import AISystem


class Command(BaseCommand):
    help = "Export the signed evidence pack (ZIP) of an AI system for a period of whole UTC days."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--system", required=True, help="the AI system's slug")
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("-o", "--output", required=True, help="the ZIP to write ('-': stdout)")
        parser.add_argument(
            "--as", dest="username",
            help="export as this user (their permission is checked and the audit event names "
            "them); without it, the export is recorded as made from the command line",
        )  # fmt: skip

    def handle(self, *args, system: str, first: str, last: str, output: str,  # type: ignore[no-untyped-def]
               username: str | None = None, **options) -> None:  # fmt: skip
        # The audit trail tells an export made at the server from one made through the API.
        credential = current_credential.set("manage.py export_evidence")
        try:
            self._export(system, first, last, output, username)
        finally:
            current_credential.reset(credential)

    def _export(self, system: str, first: str, last: str, output: str,
                username: str | None) -> None:  # fmt: skip
        try:
            target = AISystem.objects.get(slug=system)
        except AISystem.DoesNotExist:
            raise CommandError(f"no AI system with slug {system!r}") from None
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {username!r}")
        try:
            period = parse_period(first, last)
            pack = export_evidence_pack(actor=actor, system=target, period=period)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        except (PermissionDenied, SigningKeyMissing) as error:
            raise CommandError(str(error)) from None
        except EvidenceExportFailed as error:
            raise CommandError(
                f"the evidence pack could not be made, nothing was written ({error.reason}); "
                "the failure is recorded in the audit trail as evidence.export_failed"
            ) from None

        if output == "-":
            for chunk in pack:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        path = Path(output)
        partial = path.with_name(path.name + ".partial")
        # Written aside and renamed when complete: a failed export leaves no pack behind.
        try:
            with partial.open("wb") as handle:
                for chunk in pack:
                    handle.write(chunk)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        segment = pack.segment
        events = segment.events if segment is not None else 0
        self.stdout.write(
            f"Wrote {path} ({path.stat().st_size} bytes): {len(pack.files) + 2} files, "
            f"{events} audit events, manifest sha256 {pack.manifest_sha256}"
        )

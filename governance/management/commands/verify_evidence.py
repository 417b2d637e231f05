"""`manage.py verify_evidence pack.zip`: every digest, the signature and the audit chain segment."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance.evidence import sign
from governance.evidence.verify_pack import verify_pack


class Command(BaseCommand):
    help = (
        "Verify an evidence pack: each file against the manifest's sha256, the manifest's "
        "Ed25519 signature, and the hash chain of its audit events. Exits non-zero on failure."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("pack", help="the evidence pack (ZIP)")
        parser.add_argument(
            "--public-key", dest="public_key",
            help="the signer's Ed25519 public key (PEM); default: the configured signing key's",
        )  # fmt: skip

    def handle(self, *args, pack: str, public_key: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            if public_key:
                key = sign.load_public_key(Path(public_key).read_bytes())
            else:
                key = sign.signing_key().public_key()
        except (OSError, ValueError, sign.SigningKeyMissing) as error:
            raise CommandError(f"no public key to verify with: {error}") from None
        if not Path(pack).is_file():
            raise CommandError(f"{pack}: no such file")
        result = verify_pack(pack, public_key=key)
        for problem in result.problems:
            self.stderr.write(f"FAILED {problem}")
        if not result.ok:
            first = result.problems[0]
            raise CommandError(f"evidence pack {pack} is NOT intact: {first}")
        manifest = result.manifest
        chain = manifest.get("audit_chain", {})
        self.stdout.write(
            f"OK: {result.files} files match the manifest, the signature verifies "
            f"(key id {sign.key_id(key)[:16]}…), {result.events} audit events chain from "
            f"{chain.get('first_hash') or '-'} to {chain.get('last_hash') or '-'}; "
            f"{manifest.get('system', {}).get('slug')} {manifest.get('period', {}).get('from')}"
            f" to {manifest.get('period', {}).get('to')}"
        )

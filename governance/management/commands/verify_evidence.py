"""`manage.py verify_evidence pack.zip`: every digest, the signature, the audit chain segment and
the signed audit checkpoints it reaches."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance.audit.signing import verification_keys
from governance.evidence import sign
from governance.evidence.verify_pack import verify_pack


class Command(BaseCommand):
    help = (
        "Verify an evidence pack: each file against the manifest's sha256, the manifest's "
        "Ed25519 signature, the hash chain of its audit events and the signed audit checkpoints "
        "they reach. Exits non-zero on failure."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("pack", help="the evidence pack (ZIP)")
        parser.add_argument(
            "--public-key", dest="public_key",
            help="the signer's Ed25519 public key (PEM); default: the configured signing key's",
        )  # fmt: skip
        parser.add_argument(
            "--checkpoint-public-key", dest="checkpoint_keys", action="append", metavar="FILE",
            help="the audit checkpoints' Ed25519 public key (PEM), when they have a key of their "
            "own (AUDIT_CHECKPOINT_KEY); default: the pack's signer's, and the configured one's",
        )  # fmt: skip

    def handle(self, *args, pack: str, public_key: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            if public_key:
                key = sign.load_public_key(Path(public_key).read_bytes())
            else:
                key = sign.signing_key().public_key()
        except (OSError, ValueError, sign.SigningKeyMissing) as error:
            raise CommandError(f"no public key to verify with: {error}") from None
        try:
            checkpoint_keys = {sign.key_id(key): key}
            if options["checkpoint_keys"]:
                checkpoint_keys.update(verification_keys(options["checkpoint_keys"]))
            elif not public_key:
                checkpoint_keys.update(verification_keys())
        except (OSError, ValueError, sign.SigningKeyMissing) as error:
            raise CommandError(f"no public key to verify checkpoints with: {error}") from None
        if not Path(pack).is_file():
            raise CommandError(f"{pack}: no such file")
        result = verify_pack(pack, public_key=key, checkpoint_keys=checkpoint_keys)
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
        if result.checkpoints:
            reached = ", ".join(f"{seq} (checkpoint {cp})" for cp, seq in result.checkpoints)
            self.stdout.write(
                f"OK: the events hash up to the signed checkpoint heads at seq {reached}"
            )
        elif manifest.get("audit_checkpoints") is not None and result.events:
            self.stdout.write(
                "NOTE: no signed audit checkpoint covers these events yet (one is written every "
                "AUDIT_CHECKPOINT_SECONDS); verify_audit checks them in the database"
            )

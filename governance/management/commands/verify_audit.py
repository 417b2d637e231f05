"""`manage.py verify_audit`: walk every audit chain and the signed checkpoints, compare them with
the sink if given, and report the first thing wrong."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from governance.audit.chain import chain_name, seal_all
from governance.audit.signing import verification_keys
from governance.audit.verify_chain import verify_all
from governance.audit.verify_sink import compare_with_sink
from governance.evidence import sign
from governance.models import AISystem


class Command(BaseCommand):
    help = (
        "Seal pending audit events, then verify every chain and every checkpoint's link, "
        "signature and heads; exit non-zero at the first thing wrong."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--system", help="verify only this AI system's chain (slug)")
        parser.add_argument(
            "--public-key", dest="public_keys", action="append", metavar="FILE",
            help="an Ed25519 public key (PEM) that signed checkpoints; repeat it across a key "
            "rotation. Default: the configured checkpoint signing key's public half",
        )  # fmt: skip
        parser.add_argument(
            "--require-signatures", action="store_true",
            help="fail on any unsigned checkpoint (by default they are counted and warned of)",
        )  # fmt: skip
        parser.add_argument(
            "--sink", metavar="FILE",
            help="the checkpoints' published copy (AUDIT_CHECKPOINT_SINK): every checkpoint "
            "must be in it as in the database, and every line of it in the database",
        )  # fmt: skip

    def handle(self, *args, system: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        chains = None
        if system:
            try:
                chains = [chain_name(AISystem.objects.get(slug=system).pk)]
            except AISystem.DoesNotExist:
                raise CommandError(f"no AI system with slug {system!r}") from None
        try:
            keys = verification_keys(options["public_keys"])
        except (OSError, ValueError, sign.SigningKeyMissing) as error:
            raise CommandError(f"no public key to verify checkpoints with: {error}") from None
        seal_all()
        result = verify_all(chains, keys=keys, require_signatures=options["require_signatures"])
        for broken in result.breaks:
            self.stderr.write(f"BROKEN: {broken}")
        if not result.ok:
            raise CommandError(result.breaks[0].summary)
        published = ""
        if options["sink"]:
            try:
                comparison = compare_with_sink(options["sink"])
            except OSError as error:
                raise CommandError(f"cannot read the sink {options['sink']}: {error}") from None
            if comparison.broken:
                self.stderr.write(f"BROKEN: {comparison.broken} (sink {options['sink']})")
                raise CommandError(f"{comparison.broken.summary}, against the sink")
            published = f", {comparison.compared} match the sink"
            if comparison.before_sink:
                published += f" ({comparison.before_sink} older than its first line)"
        if options["verbosity"] > 1:
            for chain, (seq, head) in sorted(result.heads.items()):
                self.stdout.write(f"  {chain}: {seq} events, head {head}")
        pending = f" ({result.pending} written since, not yet sealed)" if result.pending else ""
        self.stdout.write(
            f"OK: {result.events} events in {len(result.heads)} chains, head {result.head_hash}"
            + pending
        )
        checked = result.checkpoints
        if checked is not None:
            by = ", ".join(f"{key_id[:16]}…" for key_id in sorted(checked.key_ids)) or "-"
            self.stdout.write(
                f"OK: {checked.checkpoints} checkpoints chained, {checked.signed} signed "
                f"(key {by}){published}"
            )
            if checked.unsigned:
                self.stderr.write(
                    f"WARNING: {checked.unsigned} checkpoints are unsigned (written before "
                    "checkpoints were signed, or with no key configured); their heads are "
                    "checked, their authenticity cannot be. --require-signatures fails on them."
                )

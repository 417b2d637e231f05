"""`manage.py verify_audit`: walk every audit chain and report the first broken link."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from governance.audit.chain import chain_name, seal_all
from governance.audit.verify_chain import verify_all
from governance.models import AISystem


class Command(BaseCommand):
    help = (
        "Seal pending audit events, then verify every chain; exit non-zero at the first "
        "broken link."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--system", help="verify only this AI system's chain (slug)")

    def handle(self, *args, system: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        chains = None
        if system:
            try:
                chains = [chain_name(AISystem.objects.get(slug=system).pk)]
            except AISystem.DoesNotExist:
                raise CommandError(f"no AI system with slug {system!r}") from None
        seal_all()
        result = verify_all(chains)
        for broken in result.breaks:
            self.stderr.write(f"BROKEN: {broken}")
        if not result.ok:
            first = result.breaks[0]
            raise CommandError(f"audit chain broken: chain={first.chain} seq={first.seq}")
        if options["verbosity"] > 1:
            for chain, (seq, head) in sorted(result.heads.items()):
                self.stdout.write(f"  {chain}: {seq} events, head {head}")
        pending = f" ({result.pending} written since, not yet sealed)" if result.pending else ""
        self.stdout.write(
            f"OK: {result.events} events in {len(result.heads)} chains, head {result.head_hash}"
            + pending
        )

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo people, AI systems and roles (idempotent)."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        for username, what, _ in load_demo():
            self.stdout.write(f"{username}: {what}")

from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"

    def ready(self) -> None:
        from governance.navigation import Section, register
        from releases import backends
        from releases.backends.local import LocalBackend
        from releases.models import BackendType

        backends.register(BackendType.LOCAL, LocalBackend)
        register(Section("Releases", "releases:release-list", "/releases/", order=20))
        register(Section("Approvals", "releases:approval-queue", "/approvals/", order=25))

from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"

    def ready(self) -> None:
        from releases import backends
        from releases.backends.local import LocalBackend
        from releases.models import BackendType

        backends.register(BackendType.LOCAL, LocalBackend)

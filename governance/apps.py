from __future__ import annotations

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from governance.navigation import Section, register

        register(Section("AI systems", "governance:system-list", "/systems/", order=10))
        register(Section("Audit trail", "governance:audit-list", "/audit/", order=90))

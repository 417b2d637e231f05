from __future__ import annotations

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from governance import metrics, prometheus
        from governance.evidence import records
        from governance.evidence.pack import governance as pack_governance
        from governance.navigation import Section, register
        from governance.roles import Action

        post_migrate.connect(_sync_role_permissions, sender=self)
        records.register()  # the evidence governance holds itself, for the control coverage

        register(Section("AI systems", "governance:system-list", "/systems/", order=10))
        register(Section("Audit trail", "governance:audit-list", "/audit/", 90, Action.VIEW_AUDIT))
        pack_governance.register()  # the evidence pack's inventory and role sections
        metrics.register(prometheus.build_metrics)  # /metrics: which build runs
        metrics.register(prometheus.queue_metrics)  # /metrics: tasks waiting in the broker


def _sync_role_permissions(**kwargs: object) -> None:
    from governance.grants import sync_role_permissions

    sync_role_permissions()

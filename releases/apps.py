from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"

    def ready(self) -> None:
        from django.urls import reverse

        from governance import dashboard, demo, metrics
        from governance.navigation import Section, SystemLink, register, register_system_link
        from governance.roles import Action
        from releases import backends, evidence, home, prometheus, rollback_hooks
        from releases.backends.argo import ArgoRolloutsBackend
        from releases.backends.local import LocalBackend
        from releases.backends.mlflow import MlflowBackend
        from releases.backends.webhook import WebhookBackend
        from releases.demo import load_release_demo
        from releases.drift.reconcile import reconcile_after_rollback
        from releases.models import BackendType
        from releases.notifications import notify_people

        backends.register(BackendType.LOCAL, LocalBackend)
        backends.register(BackendType.WEBHOOK, WebhookBackend)
        backends.register(BackendType.MLFLOW, MlflowBackend)
        backends.register(BackendType.ARGO, ArgoRolloutsBackend)
        demo.register(load_release_demo)
        evidence.register()  # the questions releases answer, its evidence, its pack sections
        metrics.register(prometheus.rollback_metrics)  # /metrics, read at each scrape
        dashboard.register(home.home_contribution, order=20)  # the home page
        rollback_hooks.on_rollback(notify_people)  # email and Slack, by tasks, after each step
        rollback_hooks.on_rollback(reconcile_after_rollback)  # a drift put right is resolved
        register(Section("Releases", "releases:release-list", "/releases/", order=20))
        register(Section("Approvals", "releases:approval-queue", "/approvals/", order=25))
        register_system_link(
            SystemLink(
                "Releases",
                lambda system: reverse("releases:release-list") + f"?system={system.slug}",
                order=10,
            )
        )
        register_system_link(
            SystemLink(
                "Environments",
                lambda system: reverse("releases:system-environments", args=[system.slug]),
                order=20,
            )
        )
        register_system_link(
            SystemLink(
                "Registry intake",
                lambda system: reverse("releases:intake", args=[system.slug]),
                order=45,
                action=Action.CHANGE,
            )
        )

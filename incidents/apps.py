from __future__ import annotations

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from django.urls import reverse

        from governance import dashboard, demo, metrics
        from governance.navigation import Section, SystemLink, register, register_system_link
        from governance.roles import Action
        from incidents import evidence, home, prometheus
        from incidents.change_freeze import change_freeze
        from incidents.demo import load_incident_demo
        from incidents.services.drift import drift_link, record_drift_step
        from incidents.services.rollback import (
            host_plan_rollback,
            incident_cited,
            incident_evidence,
            incident_served,
            record_rollback_step,
            war_room_link,
        )
        from releases import notifications, rollback_hooks
        from releases.drift import hooks as drift_hooks
        from releases.services.deploy_gate import register_gate_rule

        demo.register(load_incident_demo)  # after the releases' step: it needs their deployments
        evidence.register()  # pack sections and charts; how a release was monitored after launch
        metrics.register(prometheus.incident_metrics)  # /metrics, read at each scrape
        dashboard.register(home.home_contribution, order=10)  # the home page
        rollback_hooks.on_rollback(record_rollback_step)
        rollback_hooks.collect_forensics(incident_evidence)
        rollback_hooks.describe_citation(incident_cited)
        rollback_hooks.describe_served(incident_served)  # tags, annotations, webhook body
        rollback_hooks.host_plan_rollbacks(host_plan_rollback)  # PromQL triggers, analyses
        notifications.link_rollbacks(war_room_link)
        register_gate_rule("change_freeze", change_freeze)  # no promotion during a SEV1/2
        drift_hooks.on_drift(record_drift_step)  # an ungoverned change declares its incident
        drift_hooks.link_drifts(drift_link)

        register(Section("Incidents", "incidents:incident-list", "/incidents/", order=30))
        register(Section("Action items", "incidents:action-items", "/action-items/", order=35))
        register_system_link(
            SystemLink(
                "Incidents",
                lambda system: reverse("incidents:incident-list") + f"?system={system.slug}",
                order=30,
            )
        )
        register_system_link(
            SystemLink(
                "Alert tokens",
                lambda system: reverse("incidents:alert-tokens", args=[system.slug]),
                order=40,
                action=Action.CHANGE,
            )
        )

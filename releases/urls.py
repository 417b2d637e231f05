from django.urls import path

from releases.views import (
    analysis,
    environments,
    intake,
    release_actions,
    release_pages,
    rollback_decision,
    rollout_panel,
)

app_name = "releases"

urlpatterns = [
    path("releases/", release_pages.release_list, name="release-list"),
    path("releases/new/", release_pages.release_create, name="release-create"),
    path("releases/<int:pk>/", release_pages.release_detail, name="release-detail"),
    path("releases/<int:pk>/edit/", release_pages.release_edit, name="release-edit"),
    path("releases/<int:pk>/analysis/", analysis.release_analysis, name="release-analysis"),
    path("releases/<int:pk>/submit/", release_actions.release_submit, name="release-submit"),
    path(
        "releases/<int:pk>/gate-checks/",
        release_actions.gate_check_create,
        name="gate-check-create",
    ),
    path(
        "releases/<int:pk>/gate-evidence/",
        release_actions.gate_evidence_save,
        name="gate-evidence-save",
    ),
    path("releases/<int:pk>/approvals/", release_actions.approval_create, name="approval-create"),
    path("releases/<int:pk>/plan/", release_actions.plan_save, name="plan-save"),
    path(
        "releases/<int:pk>/promotions/", release_actions.promotion_create, name="promotion-create"
    ),
    path("releases/<int:pk>/rollout/", rollout_panel.release_rollout, name="release-rollout"),
    path("releases/<int:pk>/rollout/pause/", rollout_panel.rollout_pause, name="rollout-pause"),
    path("releases/<int:pk>/rollout/resume/", rollout_panel.rollout_resume, name="rollout-resume"),
    path("releases/<int:pk>/rollout/abort/", rollout_panel.rollout_abort, name="rollout-abort"),
    path("approvals/", release_pages.approval_queue, name="approval-queue"),
    path(
        "rollbacks/<int:pk>/decide/<str:token>/",
        rollback_decision.rollback_decision,
        name="rollback-decision",
    ),
    path(
        "systems/<slug:slug>/environments/",
        environments.system_environments,
        name="system-environments",
    ),
    path(
        "systems/<slug:slug>/environments/new/",
        environments.environment_save,
        name="environment-create",
    ),
    path(
        "systems/<slug:slug>/environments/<int:environment_id>/",
        environments.environment_save,
        name="environment-update",
    ),
    path(
        "systems/<slug:slug>/environments/<int:environment_id>/rollback/",
        environments.environment_rollback,
        name="environment-rollback",
    ),
    path(
        "systems/<slug:slug>/gate-policy/", environments.gate_policy_save, name="gate-policy-save"
    ),
    path("systems/<slug:slug>/intake/", intake.intake_page, name="intake"),
    path("systems/<slug:slug>/intake/secrets/", intake.secret_create, name="intake-secret-create"),
    path(
        "systems/<slug:slug>/intake/secrets/<int:secret_id>/revoke/",
        intake.secret_revoke,
        name="intake-secret-revoke",
    ),
    path("systems/<slug:slug>/intake/follows/", intake.follow_create, name="intake-follow-create"),
    path(
        "systems/<slug:slug>/intake/follows/<int:follow_id>/",
        intake.follow_update,
        name="intake-follow-update",
    ),
    path(
        "systems/<slug:slug>/intake/follows/<int:follow_id>/delete/",
        intake.follow_delete,
        name="intake-follow-delete",
    ),
]

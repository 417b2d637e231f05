from django.urls import path

from releases import views

app_name = "releases"

urlpatterns = [
    path("releases/", views.release_list, name="release-list"),
    path("releases/new/", views.release_create, name="release-create"),
    path("releases/<int:pk>/", views.release_detail, name="release-detail"),
    path("releases/<int:pk>/edit/", views.release_edit, name="release-edit"),
    path("releases/<int:pk>/submit/", views.release_submit, name="release-submit"),
    path("releases/<int:pk>/gate-checks/", views.gate_check_create, name="gate-check-create"),
    path("releases/<int:pk>/approvals/", views.approval_create, name="approval-create"),
    path("releases/<int:pk>/plan/", views.plan_save, name="plan-save"),
    path("releases/<int:pk>/promotions/", views.promotion_create, name="promotion-create"),
    path("approvals/", views.approval_queue, name="approval-queue"),
    path(
        "systems/<slug:slug>/environments/", views.system_environments, name="system-environments"
    ),
    path(
        "systems/<slug:slug>/environments/new/", views.environment_save, name="environment-create"
    ),
    path(
        "systems/<slug:slug>/environments/<int:environment_id>/",
        views.environment_save,
        name="environment-update",
    ),
    path(
        "systems/<slug:slug>/environments/<int:environment_id>/rollback/",
        views.environment_rollback,
        name="environment-rollback",
    ),
    path("systems/<slug:slug>/gate-policy/", views.gate_policy_save, name="gate-policy-save"),
]

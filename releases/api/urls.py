from django.urls import path
from rest_framework.routers import SimpleRouter

from releases.api.deploy_gate import FlaggerGateView, GateView
from releases.api.intake import (
    MlflowWebhookView,
    ModelFollowsView,
    ModelFollowView,
    WebhookSecretRevokeView,
    WebhookSecretsView,
)
from releases.api.views import (
    EnvironmentViewSet,
    GatePolicyViewSet,
    ReleaseViewSet,
    RollbackRequestViewSet,
)

router = SimpleRouter()
router.register("releases", ReleaseViewSet, basename="release")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("rollbacks", RollbackRequestViewSet, basename="rollback")

gate_policy = GatePolicyViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    *router.urls,
    path("systems/<slug:slug>/gate-policy/", gate_policy, name="gate-policy"),
    path("systems/<slug:slug>/gate/", GateView.as_view(), name="deployment-gate"),
    path(
        "systems/<slug:slug>/gate/flagger/<str:hook>/",
        FlaggerGateView.as_view(),
        name="deployment-gate-flagger",
    ),
    # MLflow's webhook: signed with one of the system's webhook secrets, not a user's.
    path("intake/mlflow/<slug:slug>/", MlflowWebhookView.as_view(), name="mlflow-webhook"),
    path(
        "systems/<slug:slug>/webhook-secrets/",
        WebhookSecretsView.as_view(),
        name="api-webhook-secrets",
    ),
    path(
        "systems/<slug:slug>/webhook-secrets/<str:secret_id>/revoke/",
        WebhookSecretRevokeView.as_view(),
        name="api-webhook-secret-revoke",
    ),
    path(
        "systems/<slug:slug>/model-follows/", ModelFollowsView.as_view(), name="api-model-follows"
    ),
    path(
        "systems/<slug:slug>/model-follows/<str:follow_id>/",
        ModelFollowView.as_view(),
        name="api-model-follow",
    ),
]

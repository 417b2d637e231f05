from django.urls import path
from rest_framework.routers import SimpleRouter

from releases.api.deploy_gate import FlaggerGateView, GateView
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
]

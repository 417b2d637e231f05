from django.urls import path
from rest_framework.routers import SimpleRouter

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
]

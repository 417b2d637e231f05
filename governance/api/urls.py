from rest_framework.routers import DefaultRouter

from governance.api.views import AuditEventViewSet, SystemViewSet

router = DefaultRouter()
router.register("systems", SystemViewSet, basename="system")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = router.urls

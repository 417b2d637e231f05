from django.urls import path
from rest_framework.routers import DefaultRouter

from governance.api.views import AuditEventViewSet, SystemViewSet
from governance.evidence.api import (
    EvidenceAnswersView,
    EvidenceCoverageView,
    EvidenceQuestionView,
)
from governance.evidence.pack.api import EvidencePackView

router = DefaultRouter()
router.register("systems", SystemViewSet, basename="system")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path(
        "systems/<slug:slug>/evidence-pack/",
        EvidencePackView.as_view(),
        name="system-evidence-pack",
    ),
    path(
        "systems/<slug:slug>/evidence/", EvidenceAnswersView.as_view(), name="api-evidence-answers"
    ),
    path(
        "systems/<slug:slug>/evidence/coverage/",
        EvidenceCoverageView.as_view(),
        name="api-evidence-coverage",
    ),
    path(
        "systems/<slug:slug>/evidence/questions/<slug:key>/",
        EvidenceQuestionView.as_view(),
        name="api-evidence-question",
    ),
    *router.urls,
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents.api.alerts import AlertIntakeView, AlertmanagerIntakeView
from incidents.api.response_times import IncidentMetricsView
from incidents.api.views import IncidentViewSet
from incidents.slack.interactivity import interactivity

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = [
    path("incidents/metrics/", IncidentMetricsView.as_view(), name="incident-metrics"),
    *router.urls,
    path("alerts/", AlertIntakeView.as_view(), name="alert-intake"),
    path("alerts/alertmanager/", AlertmanagerIntakeView.as_view(), name="alertmanager-intake"),
    # Slack's door: its signature, never a person's session (incidents/slack/interactivity.py).
    path("slack/interactivity/", interactivity, name="slack-interactivity"),
]

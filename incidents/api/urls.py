from django.urls import path

from incidents.api.alerts import AlertIntakeView, AlertmanagerIntakeView

urlpatterns = [
    path("alerts/", AlertIntakeView.as_view(), name="alert-intake"),
    path("alerts/alertmanager/", AlertmanagerIntakeView.as_view(), name="alertmanager-intake"),
]

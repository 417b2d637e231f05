from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from governance import views as governance_views

urlpatterns = [
    path("", include("config.health")),  # /healthz and /readyz: probes, open to anonymous callers
    path("", governance_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("governance.urls")),
    path("", include("releases.urls")),
    path("", include("incidents.urls")),
    path("api/", include("governance.api.urls")),
    path("api/", include("releases.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from governance import views as governance_views
from governance.api.views import unmatched_api_path
from governance.metrics import metrics
from governance.sso import views as sso_views
from governance.sso.forms import AdminPasswordSignInForm

# The admin's sign-in obeys PASSWORD_LOGIN like the login page's.
admin.site.login_form = AdminPasswordSignInForm

urlpatterns = [
    path("", include("config.health")),  # /healthz and /readyz: probes, open to anonymous callers
    # Prometheus scrapes: allowed networks or a bearer token (governance/metrics.py).
    path("metrics", metrics, name="metrics"),
    path("", governance_views.home, name="home"),
    path("login/", sso_views.SignInView.as_view(), name="login"),
    # The provider's round trip happens before anyone is signed in.
    path(
        "login/sso/",
        login_not_required(sso_views.ProviderSignInView.as_view()),
        name="oidc-authenticate",
    ),
    path(
        "login/sso/callback/",
        login_not_required(sso_views.ProviderCallbackView.as_view()),
        name="oidc-callback",
    ),
    path("logout/", sso_views.SignOutView.as_view(), name="logout"),
    path("", include("governance.urls")),
    path("", include("releases.urls")),
    path("", include("incidents.urls")),
    path("api/", include("governance.api.urls")),
    path("api/", include("releases.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file: the CSP allows no inline one.
    # Swagger UI adds a <style> element as it renders: on this page only, inline style
    # elements (never scripts, never style attributes) pass.
    path(
        "api/docs/",
        csp_update({"style-src-elem": [SELF, UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    unmatched_api_path(),  # after every API route: any other /api/…/ path is a JSON 404
    path("admin/", admin.site.urls),
]

# A database outage answers 503 with Retry-After, not 500; on the API a request Django
# cannot read is JSON, a body over the limit 413 (config/errors.py).
handler400 = "config.errors.bad_request"
handler500 = "config.errors.server_error"

"""The app's URLs plus bench/empty/: the baseline of bench/pages.py.

The empty view does no work of its own, but its request goes through the whole middleware
stack like any page's: the session is loaded and the user authenticated (the login-required
middleware asks for `request.user`), the CSRF, security and request-id middleware run. Its
requests per second are what Django and the server cost per request before a page does
anything. It comes first in the URLconf, so its URL resolves as cheaply as any can.
"""

import sys

if __name__ == "__main__":  # `make bench` runs every bench/*.py: this one is no benchmark
    sys.exit(0)

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"")


urlpatterns = [
    path("bench/empty/", empty, name="bench-empty"),
    path("", include("config.urls")),
]

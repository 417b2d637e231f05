"""The app's URLs plus bench/empty/ (the baseline of bench/pages.py) and bench/empty-api/
(of bench/gate.py).

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
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"")


class EmptyApi(APIView):
    """bench/empty-api/: the API's authentication, permissions and renderer, no work."""

    def get(self, request: Request) -> Response:
        return Response({})


urlpatterns = [
    path("bench/empty/", empty, name="bench-empty"),
    path("bench/empty-api/", EmptyApi.as_view(), name="bench-empty-api"),
    path("", include("config.urls")),
]

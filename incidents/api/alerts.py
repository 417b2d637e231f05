"""Where monitoring posts alerts: Alertmanager's webhook (version 4) and a generic JSON form.

Authenticated by a per-system bearer token (Authorization: Bearer fsa_…), not by a user:
the token decides the system, and the labels decide the environment.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api.authentication import bearer_secret
from governance.models import AISystem
from governance.tokens import act_with
from incidents.services import AlertPayloadError, ingest_alert, parse_alertmanager, parse_generic
from incidents.services.tokens import live_alert_token


class AlertTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        secret = bearer_secret(request, shape="<token>")
        if secret is None:
            return None
        token = live_alert_token(secret)
        if token is None:
            raise AuthenticationFailed("Unknown or revoked alert token.")
        act_with(token, "Alert token")
        return (None, token.system)  # no user: the token speaks for a system

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="alerts"'


class HasAlertToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth is not None


class AlertIntakeView(APIView):
    authentication_classes = [AlertTokenAuthentication]
    permission_classes = [HasAlertToken]
    parse = staticmethod(parse_generic)

    @extend_schema(
        request=dict,
        responses={202: OpenApiResponse(description="Alerts recorded: the incidents they joined")},
    )
    def post(self, request: Request) -> Response:
        try:
            alerts = self.parse(request.data)
        except AlertPayloadError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        system = cast(AISystem, request.auth)
        stored = [ingest_alert(system=system, alert=alert) for alert in alerts]
        return Response(
            {
                "alerts": [
                    {"id": a.pk, "status": a.status, "incident": a.incident_id} for a in stored
                ]
            },
            status=status.HTTP_202_ACCEPTED,
        )


class AlertmanagerIntakeView(AlertIntakeView):
    """Point an Alertmanager webhook receiver here (http_config.authorization.credentials)."""

    parse = staticmethod(parse_alertmanager)


class AlertTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents the alert token (drf-spectacular finds it by target class)."""

    target_class = AlertTokenAuthentication
    name = "alertToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A per-system alert token (fsa_…), created by a system owner.",
        }

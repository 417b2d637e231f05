"""Where monitoring posts alerts: Alertmanager's webhook (version 4) and a generic JSON form.

Authenticated by a per-system bearer token (Authorization: Bearer fsa_…), not by a user:
the token decides the system, and the labels decide the environment. The token is checked
first; then the body's size (413 past ALERT_PAYLOAD_MAX_BYTES, before it is read), then its
content (incidents.services.alerts says what a post may hold). A refused post writes nothing.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, ParseError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api.authentication import bearer_secret
from governance.api.parsers import MAX_DEPTH, refuse_unstorable
from governance.api.query import DocumentedQueryOnly
from governance.api.throttling import AlertTokenRateThrottle
from governance.tokens import act_with
from incidents.api.serializers import (
    AlertPayloadRefusedSerializer,
    AlertPayloadTooLargeSerializer,
    AlertsRecordedSerializer,
)
from incidents.models import AlertToken
from incidents.services import (
    AlertPayloadError,
    check_size,
    check_text,
    parse_alertmanager,
    parse_generic,
    receive_alerts,
)
from incidents.services.alert_tokens import live_alert_token


class AlertTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        secret = bearer_secret(request, shape="<token>")
        if secret is None:
            return None
        token = live_alert_token(secret)
        if token is None:
            raise AuthenticationFailed("Unknown or revoked alert token.")
        act_with(token, "Alert token")
        return (None, token)  # no user: the token speaks for its system

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="alerts"'


class HasAlertToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth is not None


class AlertJSONParser(parsers.JSONParser):
    """The API's JSON parser (governance.api.parsers), except that text that cannot be
    stored (NUL, lone surrogates) is refused naming its field (`alerts[1].labels.team`): a
    sender can then find the alert rule at fault."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The body nests deeper than {MAX_DEPTH} levels.") from None
        check_text(data)  # AlertPayloadError, which the view answers
        refuse_unstorable(data)  # and the API's own net: the depth
        return data


class AlertIntakeView(APIView):
    authentication_classes = [AlertTokenAuthentication]
    permission_classes = [HasAlertToken, DocumentedQueryOnly]
    throttle_classes = [AlertTokenRateThrottle]  # per token: 429 with Retry-After past it
    parser_classes = [AlertJSONParser]
    parse = staticmethod(parse_generic)

    @extend_schema(
        request=dict,
        responses={
            202: OpenApiResponse(
                response=AlertsRecordedSerializer,
                description=(
                    "Alerts recorded: for each, the incident it declared or joined, the "
                    "environment its labels named, and warnings (a label that matched no "
                    "environment, an environment assumed for want of a label, an alert that "
                    "joined its token's storm incident)"
                ),
            ),
            400: OpenApiResponse(
                response=AlertPayloadRefusedSerializer,
                description="Refused, nothing written: the field and what is wrong with it "
                "(an impossible time, U+0000 or a lone surrogate in any string, a text over "
                "its cap, a missing alertname, …)",
            ),
            413: OpenApiResponse(
                response=AlertPayloadTooLargeSerializer,
                description="Refused, nothing written: more than ALERT_PAYLOAD_MAX_ALERTS "
                "alerts or ALERT_PAYLOAD_MAX_BYTES bytes (1,048,576 unless configured)",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        token = cast(AlertToken, request.auth)
        try:
            check_size(_content_length(request))
            alerts = self.parse(request.data)
        except AlertPayloadError as error:
            return Response(error.answer(), status=error.status)
        received = receive_alerts(system=token.system, alerts=alerts, token=token)
        return Response(
            {
                "alerts": [
                    {
                        "id": r.alert.pk,
                        "name": r.alert.name,
                        "status": r.alert.status,
                        "incident": r.alert.incident_id,
                        "environment": r.environment_slug,
                        "warnings": r.warnings,
                    }
                    for r in received
                ]
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _content_length(request: Request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # as Django reads it: no body


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

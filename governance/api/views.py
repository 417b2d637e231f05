"""The inventory API: thin translations onto the same services the pages use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance import queries, services
from governance.api.access import AccessFirst
from governance.api.serializers import AuditEventSerializer, RoleGrantSerializer, SystemSerializer
from governance.filters import AuditEventFilter, SystemFilter
from governance.http import api_actor
from governance.models import AISystem
from governance.permissions import get_system_or_404
from governance.roles import Action

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class SystemViewSet(
    AccessFirst,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """AI systems you hold a role on. Owners edit; anyone with the global right registers."""

    serializer_class = SystemSerializer
    filterset_class = SystemFilter
    lookup_field = "slug"
    required_actions = {
        "create": Action.CHANGE,  # and the global right to register systems: check_access
        "update": Action.CHANGE,
        "partial_update": Action.CHANGE,
        "grant_role": Action.MANAGE_ROLES,
        "revoke_role": Action.MANAGE_ROLES,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return queries.systems_for(api_actor(self.request))

    def read_object(self) -> AISystem:
        return get_system_or_404(self.request.user, self.kwargs["slug"])

    def system_of(self, obj: AISystem) -> AISystem:
        return obj

    def check_access(self, actor: User, needed: tuple[Action, ...]) -> None:
        if self.action == "create":
            services.check_may_register_system(actor)
        else:
            super().check_access(actor, needed)

    def perform_create(self, serializer: SystemSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.create_system(
            actor=api_actor(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: SystemSerializer) -> None:  # type: ignore[override]
        system: AISystem = serializer.instance  # type: ignore[assignment]
        data = serializer.validated_data
        serializer.instance = services.update_system(
            actor=api_actor(self.request),
            system=system,
            name=data.get("name", system.name),
            slug=data.get("slug", system.slug),
            intended_purpose=data.get("intended_purpose", system.intended_purpose),
            risk_category=data.get("risk_category", system.risk_category),
            operator_role=data.get("operator_role"),
            reporting_regime=data.get("reporting_regime"),
            drift_severity=data.get("drift_severity"),
            pagerduty_routing_key=data.get("pagerduty_routing_key"),
            slack_bot_token=data.get("slack_bot_token"),
            slack_channel_id=data.get("slack_channel_id"),
            owners=data.get("owners"),
        )

    @extend_schema(responses=RoleGrantSerializer(many=True))
    # The whole list, unfiltered: no page, and none of the systems' filters (the schema would
    # document them, and they would be ignored).
    @action(
        detail=True, methods=["get"], url_path="roles", pagination_class=None, filter_backends=[]
    )
    def roles(self, request: Request, slug: str, format: str | None = None) -> Response:
        """Everyone holding a role on the system."""
        system = self.get_object()
        return Response(RoleGrantSerializer(queries.role_grants(system), many=True).data)

    @extend_schema(request=RoleGrantSerializer, responses={201: RoleGrantSerializer})
    @roles.mapping.post
    def grant_role(self, request: Request, slug: str, format: str | None = None) -> Response:
        """Grant a role to a user or a group (system owners only)."""
        system = self.get_object()
        serializer = RoleGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = services.grant_role(
            actor=api_actor(request), system=system, **serializer.validated_data
        )
        return Response(RoleGrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"roles/(?P<grant_id>[0-9]+)")
    def revoke_role(
        self, request: Request, slug: str, grant_id: str, format: str | None = None
    ) -> Response:
        """Revoke a role grant (system owners only)."""
        system = self.get_object()
        grant = system.role_grants.filter(pk=int(grant_id)).first()
        if grant is None:
            raise Http404("No such role grant.")
        services.revoke_role(actor=api_actor(request), grant=grant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail of the systems whose audit you may read, newest first."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return queries.audit_events_for(api_actor(self.request))


@csrf_exempt  # it changes nothing; a POST must learn "not found", not "CSRF cookie not set"
def unmatched_path(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """An API path no route matches, such as an id or slug of the wrong shape: a JSON 404
    like every other API error, not the site's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


def unmatched_api_path() -> URLPattern:
    """The route answering `unmatched_path` anywhere under /api/: listed after every API
    route. It only matches paths ending with a slash, so CommonMiddleware still adds a
    missing one."""
    return re_path(r"^api/(?:[\s\S]*/)?\Z", unmatched_path, name="api-unmatched")

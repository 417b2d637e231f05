"""Rollback requests and how they went; confirming or dismissing a proposal."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.access import AccessFirst
from governance.api.throttling import ROLLBACK_THROTTLES
from governance.api.validation import validated
from governance.http import api_actor
from governance.models import AISystem
from governance.permissions import restrict
from governance.roles import Action
from releases import rollbacks
from releases.api.serializers import (
    RollbackDismissSerializer,
    RollbackRequestSerializer,
)
from releases.models import RollbackRequest


class RollbackRequestFilter(filters.FilterSet):
    system = filters.CharFilter(field_name="environment__system__slug")

    class Meta:
        model = RollbackRequest
        fields = ["status", "system", "environment__system__slug", "is_drill"]


class RollbackRequestViewSet(
    AccessFirst, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Rollback requests and how they went; confirm or dismiss what a trigger proposed."""

    serializer_class = RollbackRequestSerializer
    filterset_class = RollbackRequestFilter
    required_actions = {"confirm": Action.REQUEST_ROLLBACK, "dismiss": Action.REQUEST_ROLLBACK}

    def system_of(self, obj: RollbackRequest) -> AISystem:
        return obj.environment.system

    def get_queryset(self):  # type: ignore[no-untyped-def]
        requests = RollbackRequest.objects.select_related(
            "environment__system", "from_release", "to_release", "requested_by", "confirmed_by"
        )
        return restrict(requests, api_actor(self.request), via="environment__system")

    @extend_schema(request=None, responses=RollbackRequestSerializer)
    @action(detail=True, methods=["post"], throttle_classes=ROLLBACK_THROTTLES)
    def confirm(self, request: Request, pk: str) -> Response:
        """Run a proposed rollback now (rollback owners, on-call leads)."""
        rollback = rollbacks.confirm_rollback(actor=api_actor(request), request=self.get_object())
        return Response(RollbackRequestSerializer(rollback).data)

    @extend_schema(request=RollbackDismissSerializer, responses=RollbackRequestSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str) -> Response:
        data = validated(RollbackDismissSerializer, request.data)
        rollback = rollbacks.dismiss_rollback(
            actor=api_actor(request), request=self.get_object(), reason=data["reason"]
        )
        return Response(RollbackRequestSerializer(rollback).data)

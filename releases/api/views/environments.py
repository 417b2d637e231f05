"""Environments: what is live (now or at a time), ROLL BACK NOW and drills, their settings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.access import AccessFirst
from governance.api.throttling import ROLLBACK_THROTTLES
from governance.api.validation import validated
from governance.http import api_actor
from governance.permissions import get_system_or_404, restrict
from governance.roles import Action
from releases import drift, queries, rollbacks, services
from releases.api.serializers import (
    AdoptDriftSerializer,
    EnvironmentSerializer,
    LiveAtSerializer,
    ReleaseSerializer,
    RollbackAskSerializer,
    RollbackRequestSerializer,
)
from releases.models import Drift, Environment, Release


class EnvironmentFilter(filters.FilterSet):
    # `system`, as on releases and incidents; `system__slug`, its first name, still works.
    system = filters.CharFilter(field_name="system__slug")

    class Meta:
        model = Environment
        fields = ["system", "system__slug", "is_production"]


class EnvironmentViewSet(
    AccessFirst,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Environments, their deployment backend (secrets write-only) and what is live in them."""

    serializer_class = EnvironmentSerializer
    filterset_class = EnvironmentFilter
    required_actions = {
        "create": Action.CHANGE,
        "update": Action.CHANGE,
        "partial_update": Action.CHANGE,
        "rollback": Action.REQUEST_ROLLBACK,
        "adopt_drift": Action.APPROVE_RELEASE,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        environments = restrict(
            Environment.objects.select_related("system"), api_actor(self.request)
        )
        return queries.with_live(environments)  # live_release, in one query for the page

    def create(self, request: Request) -> Response:
        """Add an environment to a system (system owners)."""
        data = validated(EnvironmentSerializer, request.data)
        system = get_system_or_404(api_actor(request), data["system"])
        environment = services.create_environment(
            actor=api_actor(request),
            system=system,
            name=data["name"],
            is_production=data.get("is_production", False),
            backend_type=data["backend_type"],
            backend_config=data.get("backend_config", {}),
            backend_secrets=data.get("backend_secrets", {}),
            prometheus_url=data.get("prometheus_url", ""),
            prometheus_token=data.get("prometheus_token") or None,
        )
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:  # type: ignore[override]
        """Change an environment (PUT: every required field, as documented; PATCH: those
        given); omit backend_secrets or prometheus_token to keep the stored ones."""
        environment = self.get_object()
        data = validated(EnvironmentSerializer, request.data, partial=partial)
        data.pop("system", None)  # an environment never moves to another system
        environment = services.update_environment(
            actor=api_actor(request),
            environment=environment,
            name=data.get("name", environment.name),
            is_production=data.get("is_production", environment.is_production),
            backend_type=data.get("backend_type", environment.backend_type),
            backend_config=data.get("backend_config", environment.backend_config),
            backend_secrets=data.get("backend_secrets"),
            prometheus_url=data.get("prometheus_url"),
            prometheus_token=data.get("prometheus_token"),
        )
        return Response(EnvironmentSerializer(environment).data)

    def partial_update(self, request: Request, pk: str) -> Response:  # type: ignore[override]
        return self.update(request, pk, partial=True)

    @extend_schema(
        request=RollbackAskSerializer,
        responses={202: RollbackRequestSerializer, 200: RollbackRequestSerializer},
    )
    @action(detail=True, methods=["post"], throttle_classes=ROLLBACK_THROTTLES)
    def rollback(self, request: Request, pk: str) -> Response:
        """ROLL BACK NOW for this environment (or a drill, outside production). 202 with the
        new request; 200 with the one already active (a second press changes nothing).
        After a verified rollback, going past the release it put back takes `further`;
        `expected_from`/`expected_target` refuse a press made on an out-of-date view."""
        environment = self.get_object()
        data = validated(RollbackAskSerializer, request.data)
        target = None
        if data.get("to_release"):
            target = Release.objects.filter(
                system=environment.system_id, version=data["to_release"]
            ).first()
            if target is None:
                return Response(
                    {"to_release": ["No release of this system has that version."]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        rollback, created = rollbacks.request_rollback(
            actor=api_actor(request),
            environment=environment,
            reason=data["reason"],
            to_release=target,
            idempotency_key=data.get("idempotency_key") or None,
            drill=data["drill"],
            further=data["further"],
            expected_from=data.get("expected_from"),
            expected_target=data.get("expected_target"),
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(RollbackRequestSerializer(rollback).data, status=code)

    @extend_schema(
        request=AdoptDriftSerializer,
        responses={200: ReleaseSerializer, 409: OpenApiResponse(description="no open drift")},
    )
    @action(detail=True, methods=["post"], url_path="drift/adopt")
    def adopt_drift(self, request: Request, pk: str) -> Response:
        """Adopt what an ungoverned change put live (release managers): the release the
        backend reports, approved through Failsafe, becomes the recorded one, with why."""
        environment = self.get_object()
        data = validated(AdoptDriftSerializer, request.data)
        found = Drift.objects.filter(environment=environment, resolved_at__isnull=True).first()
        if found is None:
            return Response(
                {"detail": f"{environment.name} has no open drift: nothing to adopt."},
                status=status.HTTP_409_CONFLICT,
            )
        adopted = drift.adopt_drift(actor=api_actor(request), drift=found, reason=data["reason"])
        assert adopted.observed_release is not None  # adopt_drift refuses an unknown version
        return Response(ReleaseSerializer(adopted.observed_release).data)

    @extend_schema(parameters=[LiveAtSerializer], responses=ReleaseSerializer)
    @action(detail=True, methods=["get"])
    def live(self, request: Request, pk: str) -> Response:
        """Which release was live here at time `at` (ISO 8601; default now). 404 if none."""
        environment = self.get_object()
        query = validated(LiveAtSerializer, request.query_params)
        release = queries.live_release_at(environment, query.get("at") or timezone.now())
        if release is None:
            return Response(
                {"detail": "No release was live then."}, status=status.HTTP_404_NOT_FOUND
            )
        release = get_object_or_404(
            queries.releases_with_stack().prefetch_related("gate_checks"), pk=release.pk
        )
        return Response(ReleaseSerializer(release).data)

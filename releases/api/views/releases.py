"""Releases of the systems you hold a role on: register, edit, gate checks, approvals, the
rollback plan, promotions; and a system's gate policy."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.access import AccessFirst
from governance.api.validation import object_id, validated
from governance.http import api_actor
from governance.permissions import get_system_or_404, restrict
from governance.roles import Action
from releases import queries, services
from releases.api.serializers import (
    ApprovalSerializer,
    GateCheckSerializer,
    GatePolicySerializer,
    ReleaseDetailSerializer,
    ReleaseSerializer,
    ReleaseWriteSerializer,
    RollbackPlanSerializer,
    RolloutControlSerializer,
    RolloutStepSerializer,
    StackConflictSerializer,
)
from releases.gate_policy import policy_for
from releases.models import Release, ReleaseStatus, RollbackRequest


class ReleaseFilter(filters.FilterSet):
    system = filters.CharFilter(field_name="system__slug")
    status = filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)

    class Meta:
        model = Release
        fields = ["system", "status"]


class ReleaseViewSet(
    AccessFirst, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Releases of the systems you hold a role on."""

    filterset_class = ReleaseFilter
    required_actions = {
        "create": Action.REGISTER_RELEASE,
        "update": Action.REGISTER_RELEASE,
        "submit": Action.REGISTER_RELEASE,
        "gate_checks": (Action.REGISTER_RELEASE, Action.APPROVE_RELEASE),
        "approvals": Action.APPROVE_RELEASE,
        "rollback_plan": Action.REGISTER_RELEASE,
        "promotions": Action.PROMOTE_RELEASE,
        "rollout_pause": Action.PROMOTE_RELEASE,
        "rollout_resume": Action.PROMOTE_RELEASE,
        "rollout_abort": Action.PROMOTE_RELEASE,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return restrict(queries.releases_with_stack(), api_actor(self.request)).prefetch_related(
            "gate_checks"
        )

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return ReleaseDetailSerializer if self.action == "retrieve" else ReleaseSerializer

    def _page_of(self, releases) -> Response:  # type: ignore[no-untyped-def]
        """A page of releases, their gate policies read in one query for the whole page."""
        page = self.paginate_queryset(releases) or []
        policies = queries.policies_for({release.system_id for release in page})
        serializer = ReleaseSerializer(page, many=True, context={"policies": policies})
        return self.get_paginated_response(serializer.data)

    def list(self, request: Request) -> Response:
        return self._page_of(self.filter_queryset(self.get_queryset()))

    def read_object(self) -> Release:
        return queries.release_detail(object_id(self.kwargs["pk"]), api_actor(self.request))

    def _detail(self, release: Release, code: int = status.HTTP_200_OK) -> Response:
        release = queries.release_detail(release.pk, api_actor(self.request))
        return Response(ReleaseDetailSerializer(release).data, status=code)

    @extend_schema(
        request=ReleaseWriteSerializer,
        responses={
            201: ReleaseDetailSerializer,
            200: OpenApiResponse(
                ReleaseDetailSerializer,
                "The system already holds this stack under this version: that release, "
                "unchanged (a CI job's retry gets the first release back)",
            ),
            409: OpenApiResponse(
                StackConflictSerializer,
                "The system already holds this stack under another version: nothing "
                "registered; the answer names the release that holds it",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        """Register a draft release (model owners). Idempotent on the stack: the six
        components' digest (not the title or card) finds a release registered before."""
        data = validated(ReleaseWriteSerializer, request.data)
        system = get_system_or_404(api_actor(request), data.get("system", ""))
        try:
            release, created = services.register_release(
                actor=api_actor(request),
                system=system,
                version=data.get("version", ""),
                title=data["title"],
                card=data["card"],
                components=data["components"],
                change_categories=data["change_categories"],
            )
        except services.StackConflict as conflict:
            held = conflict.release
            return Response(
                {
                    "detail": conflict.messages[0],
                    "release": {
                        "id": held.pk,
                        "version": held.version,
                        "status": held.status,
                        "url": request.build_absolute_uri(f"/api/releases/{held.pk}/"),
                    },
                },
                status=status.HTTP_409_CONFLICT,
            )
        return self._detail(release, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=ReleaseWriteSerializer, responses=ReleaseDetailSerializer)
    def update(self, request: Request, pk: str) -> Response:
        """Replace a draft's title, card and stack (refused once submitted)."""
        release = self.get_object()
        data = validated(ReleaseWriteSerializer, request.data)
        services.update_release(
            actor=api_actor(request),
            release=release,
            title=data["title"],
            card=data["card"],
            components=data["components"],
            change_categories=data["change_categories"],
        )
        return self._detail(release)

    @extend_schema(request=None, responses=ReleaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        """Freeze the release and send it for review; 400 lists what is missing."""
        release = services.submit_release(actor=api_actor(request), release=self.get_object())
        return self._detail(release)

    @extend_schema(request=GateCheckSerializer, responses={201: GateCheckSerializer})
    @action(detail=True, methods=["post"], url_path="gate-checks")
    def gate_checks(self, request: Request, pk: str) -> Response:
        """Record gate evidence; pass/fail is computed from value, target and comparison."""
        data = validated(GateCheckSerializer, request.data)
        check = services.record_gate_check(
            actor=api_actor(request),
            release=self.get_object(),
            criterion=data["criterion"],
            comparison=data["comparison"],
            evidence_uri=data["evidence_uri"],
            measured_value=data.get("measured_value"),
            target=data.get("target"),
            unit=data.get("unit", ""),
            attested_pass=data.get("attested_pass"),
            note=data.get("note", ""),
        )
        return Response(GateCheckSerializer(check).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ApprovalSerializer, responses={201: ApprovalSerializer})
    @action(detail=True, methods=["post"])
    def approvals(self, request: Request, pk: str) -> Response:
        """Approve, reject or request changes, with a comment (release managers; not the author)."""
        data = validated(ApprovalSerializer, request.data)
        release = self.get_object()
        cited = data.get("cites_rollback_id")
        approval = services.record_approval(
            actor=api_actor(request),
            release=release,
            decision=data["decision"],
            comment=data["comment"],
            cites_rollback=RollbackRequest.objects.filter(pk=cited, from_release=release).first(),
        )
        return Response(ApprovalSerializer(approval).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RollbackPlanSerializer, responses=RollbackPlanSerializer)
    @action(detail=True, methods=["put"], url_path="rollback-plan")
    def rollback_plan(self, request: Request, pk: str) -> Response:
        """Write or replace the draft's rollback plan (model owners). Without
        `cooldown_minutes`, the default cooldown."""
        release = self.get_object()
        data = validated(RollbackPlanSerializer, request.data, release=release)
        plan = services.save_rollback_plan(
            actor=api_actor(request),
            release=release,
            environment=data["environment"],
            owners=data["owners"],
            mode=data["mode"],
            cooldown_minutes=data["cooldown_minutes"],
            triggers=data["triggers"],
            target_release=data.get("target_release"),
            advance_on_analysis=data["advance_on_analysis"],
        )
        return Response(RollbackPlanSerializer(plan).data)

    @extend_schema(request=RolloutStepSerializer, responses={202: RolloutStepSerializer})
    @action(detail=True, methods=["post"])
    def promotions(self, request: Request, pk: str) -> Response:
        """Move an approved release to a rollout stage; the backend applies it asynchronously."""
        release = self.get_object()
        data = validated(RolloutStepSerializer, request.data, release=release)
        step = services.promote_release(
            actor=api_actor(request),
            release=release,
            environment=data["environment"],
            stage=data["stage"],
            traffic_percent=data["traffic_percent"],
            analysis=data.get("analysis"),
            skip_reason=data.get("skip_reason", ""),
        )
        return Response(RolloutStepSerializer(step).data, status=status.HTTP_202_ACCEPTED)

    def _control(self, request: Request, call) -> Response:  # type: ignore[no-untyped-def]
        release = self.get_object()
        data = validated(RolloutControlSerializer, request.data, release=release)
        step = call(
            actor=api_actor(request), release=release, environment=data["environment"],
            reason=data["reason"],
        )  # fmt: skip
        return Response(RolloutStepSerializer(step).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RolloutControlSerializer, responses={202: RolloutStepSerializer})
    @action(detail=True, methods=["post"], url_path="rollout/pause")
    def rollout_pause(self, request: Request, pk: str) -> Response:
        """Hold the release's rollout in an environment: the gate refuses its promotions there
        until it is resumed; the backend is told to hold too (Argo Rollouts: spec.paused)."""
        return self._control(request, services.pause_rollout)

    @extend_schema(request=RolloutControlSerializer, responses={202: RolloutStepSerializer})
    @action(detail=True, methods=["post"], url_path="rollout/resume")
    def rollout_resume(self, request: Request, pk: str) -> Response:
        """Lift a pause of the release's rollout in an environment (`reason` is ignored)."""
        return self._control(
            request,
            lambda *, reason, **kwargs: services.resume_rollout(**kwargs),
        )

    @extend_schema(request=RolloutControlSerializer, responses={202: RolloutStepSerializer})
    @action(detail=True, methods=["post"], url_path="rollout/abort")
    def rollout_abort(self, request: Request, pk: str) -> Response:
        """Abort the release's rollout in an environment, with a reason: the candidate's
        traffic goes back to the stable release, its analysis stops, and the release is
        approved again, to start over."""
        return self._control(request, services.abort_rollout)

    @extend_schema(responses=ReleaseSerializer(many=True))
    # Not the releases' filters: documented, they would be ignored.
    @action(detail=False, methods=["get"], url_path="approval-queue", filter_backends=[])
    def approval_queue(self, request: Request) -> Response:
        """Releases in review waiting for your decision."""
        releases = queries.approval_queue(api_actor(request)).prefetch_related(
            "components", "gate_checks"
        )
        return self._page_of(releases)


class GatePolicyViewSet(viewsets.ViewSet):
    """A system's gate policy: required criteria and approvals (system owners edit)."""

    lookup_field = "slug"

    @extend_schema(responses=GatePolicySerializer)
    def retrieve(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(api_actor(request), slug)
        return Response(GatePolicySerializer(policy_for(system)).data)

    @extend_schema(request=GatePolicySerializer, responses=GatePolicySerializer)
    def update(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        data = validated(GatePolicySerializer, request.data)
        policy = services.update_gate_policy(
            actor=api_actor(request),
            system=system,
            required_criteria=data["required_criteria"],
            approvals_required=data["approvals_required"],
            required_stages=data.get("required_stages"),
            soak_minutes=data.get("soak_minutes"),
        )
        return Response(GatePolicySerializer(policy).data)

"""The incidents API: every change through incidents.services, reads through queries."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.access import AccessFirst
from governance.api.throttling import ROLLBACK_THROTTLES
from governance.api.validation import object_id, validated
from governance.http import api_actor
from governance.permissions import get_system_or_404
from governance.roles import Action
from incidents import queries, services
from incidents.api.serializers import (
    ActionItemSerializer,
    CausalLinkSerializer,
    ContainmentSerializer,
    ContainmentStatusSerializer,
    DeclareSerializer,
    HotfixAskSerializer,
    IncidentSerializer,
    OperatorNoticeAskSerializer,
    PostMortemSerializer,
    ReportSentSerializer,
    RoleAssignmentSerializer,
    SeriousSerializer,
    SeveritySerializer,
    StageSerializer,
    TimelineEntrySerializer,
    UpdateSerializer,
)
from incidents.models import Incident, PostMortem, Severity, Stage
from releases.api.serializers import IncidentRollbackAskSerializer, RollbackRequestSerializer
from releases.models import Environment, Release


class IncidentFilter(filters.FilterSet):
    system = filters.CharFilter(field_name="system__slug")
    stage = filters.MultipleChoiceFilter(choices=Stage.choices)
    severity = filters.MultipleChoiceFilter(choices=Severity.choices)
    open = filters.BooleanFilter(method="filter_open")

    class Meta:
        model = Incident
        fields = ["system", "stage", "severity", "open"]

    def filter_open(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return (
            queryset.exclude(stage=Stage.CLOSED) if value else queryset.filter(stage=Stage.CLOSED)
        )


def _user(username: str | None):  # type: ignore[no-untyped-def]
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"user": f"No active user {username!r}."})
    return user


class IncidentViewSet(
    AccessFirst, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Incidents of the systems you hold a role on."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    required_actions = {
        "create": Action.LEAD_INCIDENT,
        "stage": Action.LEAD_INCIDENT,
        "severity": Action.LEAD_INCIDENT,
        "roles": Action.LEAD_INCIDENT,
        "post_update": Action.RESPOND_INCIDENT,  # a status update: the commander or scribe
        "containments": Action.RESPOND_INCIDENT,
        "containment_status": Action.RESPOND_INCIDENT,
        "rollback": Action.REQUEST_ROLLBACK,
        "serious": Action.LEAD_INCIDENT,
        "reports": Action.LEAD_INCIDENT,
        "causal_link": Action.LEAD_INCIDENT,
        "operator_notices": Action.LEAD_INCIDENT,
        "hotfixes": Action.LEAD_INCIDENT,
        "save_postmortem": Action.RESPOND_INCIDENT,
        "action_items": Action.RESPOND_INCIDENT,
        "publish": Action.LEAD_INCIDENT,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return queries.incidents_for(api_actor(self.request)).prefetch_related(
            "authority_notifications",
            "operator_notices",
            "hotfixes__release",
            "hotfixes__cited_by",
        )

    def read_object(self) -> Incident:
        return queries.incident_detail(object_id(self.kwargs["pk"]), api_actor(self.request))

    def _ok(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        """The incident as it is now, after the action."""
        fresh = queries.incident_detail(incident.pk, api_actor(self.request))
        return Response(IncidentSerializer(fresh).data, status=code)

    @extend_schema(request=DeclareSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request) -> Response:
        """Declare an incident (on-call leads); the live release is taken from the deployments."""
        data = validated(DeclareSerializer, request.data)
        system = get_system_or_404(api_actor(request), data.pop("system"))
        environment_slug = data.pop("environment", "")
        environment = None
        if environment_slug:
            environment = Environment.objects.filter(system=system, slug=environment_slug).first()
            if environment is None:
                raise Http404("No such environment.")
        incident = services.declare_incident(
            actor=api_actor(request), system=system, environment=environment, **data
        )
        return self._ok(incident, status.HTTP_201_CREATED)

    @extend_schema(request=StageSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def stage(self, request: Request, pk: str) -> Response:
        """Move forward (skips are recorded) or reopen a reviewed/closed incident with a reason."""
        data = validated(StageSerializer, request.data)
        incident = services.move_stage(actor=api_actor(request), incident=self.get_object(), **data)
        return self._ok(incident)

    @extend_schema(request=SeveritySerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def severity(self, request: Request, pk: str) -> Response:
        data = validated(SeveritySerializer, request.data)
        incident = services.change_severity(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return self._ok(incident)

    @extend_schema(request=RoleAssignmentSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def roles(self, request: Request, pk: str) -> Response:
        """Assign commander, scribe, communications, ML lead or a responder (a hand-over)."""
        data = validated(RoleAssignmentSerializer, request.data)
        incident = self.get_object()
        services.assign_role(
            actor=api_actor(request), incident=incident, role=data["role"], user=_user(data["user"])
        )
        return self._ok(incident)

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="entries after this id")],
        responses=TimelineEntrySerializer(many=True),
    )
    # The whole list, not a page, and none of the incidents' filters (documented, they would
    # be ignored).
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, pk: str) -> Response:
        """The timeline, oldest first; pass ?after=<last id> to poll for what is new."""
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError:
            return Response({"after": ["A whole number."]}, status=status.HTTP_400_BAD_REQUEST)
        entries = queries.timeline_of(self.get_object(), after_id=after)
        return Response(TimelineEntrySerializer(entries, many=True).data)

    @extend_schema(request=UpdateSerializer, responses={201: TimelineEntrySerializer})
    @timeline.mapping.post
    def post_update(self, request: Request, pk: str) -> Response:
        """A note (responders) or a status update (commander, scribe)."""
        data = validated(UpdateSerializer, request.data)
        entry = services.post_update(actor=api_actor(request), incident=self.get_object(), **data)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ContainmentSerializer, responses={201: ContainmentSerializer})
    @action(detail=True, methods=["post"])
    def containments(self, request: Request, pk: str) -> Response:
        data = validated(ContainmentSerializer, request.data)
        containment = services.request_containment(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return Response(ContainmentSerializer(containment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ContainmentStatusSerializer,
        responses=ContainmentSerializer,
        operation_id="incidents_containment_status",
    )
    @action(detail=True, methods=["post"], url_path=r"containments/(?P<containment_id>[0-9]+)")
    def containment_status(self, request: Request, pk: str, containment_id: str) -> Response:
        """Mark a containment action done, or undo it."""
        incident = self.get_object()
        containment = incident.containments.filter(pk=int(containment_id)).first()
        if containment is None:
            raise Http404("No such containment action.")
        data = validated(ContainmentStatusSerializer, request.data)
        containment = services.set_containment_status(
            actor=api_actor(request), action=containment, status=data["status"]
        )
        return Response(ContainmentSerializer(containment).data)

    @extend_schema(
        request=IncidentRollbackAskSerializer,
        responses={202: RollbackRequestSerializer, 200: RollbackRequestSerializer},
    )
    @action(detail=True, methods=["post"], throttle_classes=ROLLBACK_THROTTLES)
    def rollback(self, request: Request, pk: str) -> Response:
        """ROLL BACK NOW: the incident's environment back to the plan's target. 202 with the
        new request; 200 with the one already active (a second press changes nothing).
        After a verified rollback, going past the release it put back takes `further`;
        `expected_from`/`expected_target` refuse a press made on an out-of-date view."""
        incident = self.get_object()
        data = validated(IncidentRollbackAskSerializer, request.data)
        rollback, created = services.roll_back_incident(
            actor=api_actor(request),
            incident=incident,
            reason=data.get("reason", ""),
            idempotency_key=data.get("idempotency_key") or None,
            further=data.get("further", False),
            expected_from=data.get("expected_from"),
            expected_target=data.get("expected_target"),
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(RollbackRequestSerializer(rollback).data, status=code)

    @extend_schema(request=SeriousSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def serious(self, request: Request, pk: str) -> Response:
        """Classify as a serious incident (EU AI Act): starts the Art. 73 reporting clock."""
        data = validated(SeriousSerializer, request.data)
        incident = services.classify_serious(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return self._ok(incident)

    @extend_schema(request=CausalLinkSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"], url_path="causal-link")
    def causal_link(self, request: Request, pk: str) -> Response:
        """Record when the causal link with the AI system was established or suspected: the
        Art. 73 report is due immediately after it (the days are the outer limit)."""
        data = validated(CausalLinkSerializer, request.data)
        incident = services.record_causal_link(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return self._ok(incident)

    @extend_schema(request=ReportSentSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def reports(self, request: Request, pk: str) -> Response:
        """Record the initial or the complete report as sent, and to which Member State's
        authority, with its reference; the same report to another authority is recorded
        again, with that authority."""
        data = validated(ReportSentSerializer, request.data)
        incident = services.record_report_sent(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return self._ok(incident)

    @extend_schema(request=OperatorNoticeAskSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"], url_path="operator-notices")
    def operator_notices(self, request: Request, pk: str) -> Response:
        """A deployer's system: record that the provider (first), the importer or the
        distributor was informed of the serious incident (Art. 26(5))."""
        data = validated(OperatorNoticeAskSerializer, request.data)
        incident = self.get_object()
        services.record_operator_notice(actor=api_actor(request), incident=incident, **data)
        return self._ok(incident)

    @extend_schema(request=HotfixAskSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def hotfixes(self, request: Request, pk: str) -> Response:
        """Name a release as the incident's hotfix: while a SEV1 or SEV2 freezes changes to
        its environment, the deployment gate lets that release through (its approvals, plan
        and stage order still hold)."""
        data = validated(HotfixAskSerializer, request.data)
        incident = self.get_object()
        found = Release.objects.filter(
            system_id=incident.system_id, version=data["release"]
        ).first()
        if found is None:
            raise ValidationError(
                {"release": "This incident's system has no release of that version."}
            )
        services.cite_hotfix(actor=api_actor(request), incident=incident, release=found)
        return self._ok(incident)

    @extend_schema(responses=PostMortemSerializer)
    @action(detail=True, methods=["get"])
    def postmortem(self, request: Request, pk: str) -> Response:
        postmortem = PostMortem.objects.filter(incident=self.get_object()).first()
        return Response(PostMortemSerializer(postmortem or PostMortem()).data)

    @extend_schema(request=PostMortemSerializer, responses=PostMortemSerializer)
    @postmortem.mapping.put
    def save_postmortem(self, request: Request, pk: str) -> Response:
        data = validated(PostMortemSerializer, request.data)
        postmortem = services.save_postmortem(
            actor=api_actor(request), incident=self.get_object(), **data
        )
        return Response(PostMortemSerializer(postmortem).data)

    @extend_schema(request=ActionItemSerializer, responses={201: ActionItemSerializer})
    @action(detail=True, methods=["post"], url_path="action-items")
    def action_items(self, request: Request, pk: str) -> Response:
        data = validated(ActionItemSerializer, request.data)
        item = services.add_action_item(
            actor=api_actor(request),
            incident=self.get_object(),
            title=data["title"],
            owner=_user(data.get("owner")),
            due_date=data.get("due_date"),
        )
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        """Publish the post-mortem and close the incident (every action item needs an owner)."""
        incident = services.publish_postmortem(actor=api_actor(request), incident=self.get_object())
        return self._ok(incident)

"""The auditor's questions and the control coverage over the API: the same answers as the
pages (`governance.evidence.questions`, `governance.evidence.controls`), as JSON.

Reading them needs the audit-reading right on the system (owners, release managers, on-call
leads, compliance officers); a system you may not see is a 404. Bad input — an unknown
environment or release, a malformed time, an inverted period — is a 400 naming the input.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api import types as api_types
from governance.evidence import controls
from governance.evidence import questions as registry
from governance.evidence.kinds import EvidenceKind
from governance.permissions import get_system_or_404
from governance.roles import Action

READ = Action.VIEW_AUDIT

START = OpenApiParameter(
    "start",
    OpenApiTypes.STR,
    description="Start of the period: a date (YYYY-MM-DD, UTC midnight) or an ISO 8601 time. "
    f"Default: {registry.DEFAULT_PERIOD_DAYS} days before the end.",
)
END = OpenApiParameter(
    "end",
    OpenApiTypes.STR,
    description="End of the period: a date (the whole day is included) or an ISO 8601 time "
    "(excluded). Default: now.",
)
ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='Input the question cannot use, by name: {"environment": ["…"]}.',
    ),
    403: OpenApiResponse(description="You see the system but may not read its audit evidence."),
    404: OpenApiResponse(description="No such system (or question), or not one you may see."),
}


def _inline_enum(values: list[str]) -> type[serializers.CharField]:
    """A string from a fixed set, documented inline: no enum component whose name could
    collide with the many other `kind` and `status` fields of the API."""

    @extend_schema_field({"type": "string", "enum": values})
    class Inline(serializers.CharField):
        pass

    return Inline


@extend_schema_field(
    {"type": "string", "description": "An evidence kind: " + ", ".join(EvidenceKind.values)}
)
class EvidenceKindField(serializers.CharField):
    """Listed in the description, not as an enum: the API has several `kind` enums already."""


FrameworkField = _inline_enum(["eu_ai_act", "nist_ai_rmf", "iso_42001"])
StatusField = _inline_enum(list(controls.Status.LABELS))


class EvidenceHeldSerializer(api_types.Serializer):
    kind = EvidenceKindField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    count = serializers.IntegerField(help_text="Records of this kind held for the period.")
    link = serializers.CharField(help_text="Where a person can see them (an app path), or ''.")


class ControlCoverageSerializer(api_types.Serializer):
    framework = FrameworkField()
    framework_name = serializers.CharField()
    citation = serializers.CharField(help_text="The framework's reference document.")
    url = serializers.CharField(help_text="Where the framework is published.")
    id = serializers.CharField(help_text='The article, subcategory or clause: "Art. 14(4)(e)".')
    title = serializers.CharField()
    requires = serializers.CharField(help_text="What the control asks, paraphrased.")
    note = serializers.CharField(help_text="Where evidence outside Failsafe lies, if anywhere.")
    status = StatusField()
    status_label = serializers.CharField()
    evidence = EvidenceHeldSerializer(many=True)
    missing = serializers.ListField(
        child=EvidenceKindField(),
        help_text="Evidence kinds the control names with no record in the period.",
    )


class CoverageSerializer(api_types.Serializer):
    system = serializers.SlugField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    summary = serializers.DictField(
        child=serializers.IntegerField(), help_text="Controls per status."
    )
    controls = ControlCoverageSerializer(many=True)


QUESTION_KEYS = ["live", "approval", "changes", "monitoring", "rollback_plan"]


class EvidenceQuestionView(APIView):
    """One of the auditor's questions about a system, answered from the records."""

    @extend_schema(
        operation_id="systems_evidence_question",
        summary="Answer one auditor's question",
        description=(
            "`live` — which release (the whole decision stack) was live in `environment` at "
            "`at`, and the environment's deployment history. `approval` — the evaluation, gate "
            "checks and approvals of `release`. `changes` — what changed in `release` since the "
            "previous version. `monitoring` — alerts, incidents and rollbacks over the period, "
            "for `release` while it was live or for the whole system. `rollback_plan` — the "
            "plan of `release`, whether its rollbacks followed it, and its drills. Each takes "
            "only its own inputs; without them: the production environment, now, the release "
            "live in production, the last 90 days. Times are ISO 8601 UTC."
        ),
        parameters=[
            OpenApiParameter(
                "key",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=QUESTION_KEYS,
                description="The question.",
            ),
            OpenApiParameter(
                "environment", OpenApiTypes.STR, description="live: the environment's slug."
            ),
            OpenApiParameter(
                "at",
                OpenApiTypes.DATETIME,
                description="live: the moment asked about (ISO 8601; naive is UTC).",
            ),
            OpenApiParameter(
                "release",
                OpenApiTypes.STR,
                description="approval, changes, rollback_plan, monitoring: a release version.",
            ),
            START,
            END,
        ],
        responses={
            200: inline_serializer(
                "EvidenceAnswer",
                {
                    "system": serializers.SlugField(),
                    "question": serializers.CharField(),
                    "title": serializers.CharField(),
                    "answer": serializers.JSONField(
                        help_text="The answer; its shape per question is documented in "
                        "governance.evidence.questions.answer_all."
                    ),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, slug: str, key: str) -> Response:
        system = get_system_or_404(request.user, slug, READ)
        question = registry.get_question(key)
        if question is None:
            raise Http404("No such question.")
        registry.refuse_inputs_not_taken(request.query_params, question.inputs)
        params = registry.parse_params(request.query_params, question.inputs)
        answer = question.answer(system, params)
        return Response(
            {
                "system": system.slug,
                "question": question.key,
                "title": question.title,
                "answer": registry.jsonable(answer),
            }
        )


class EvidenceAnswersView(APIView):
    """Every auditor's question answered for a period: what the evidence pack's report shows."""

    @extend_schema(
        operation_id="systems_evidence_answers",
        summary="Answer every auditor's question for a period",
        parameters=[START, END],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(request.user, slug, READ)
        params = registry.parse_params(request.query_params, (registry.PERIOD,))
        start, end = registry.period_of(params)
        return Response(registry.answer_all(system=system, start=start, end=end))


class EvidenceCoverageView(APIView):
    """The control mapping filled in for a system: per control, the evidence held and missing."""

    @extend_schema(
        operation_id="systems_evidence_coverage",
        summary="Coverage of the EU AI Act, NIST AI RMF and ISO/IEC 42001 controls",
        parameters=[START, END],
        responses={200: CoverageSerializer, **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(request.user, slug, READ)
        params = registry.parse_params(request.query_params, (registry.PERIOD,))
        start, end = registry.period_of(params)
        rows = controls.coverage(system, start, end)
        body: dict[str, Any] = {
            "system": system.slug,
            "start": registry.iso(start),
            "end": registry.iso(end),
            "summary": controls.summary(rows),
            "controls": [controls.as_dict(row) for row in rows],
        }
        return Response(body)

"""The deployment gate for whoever moves releases outside Failsafe, in the shapes they speak.

- CI and Argo Rollouts: `GET /api/systems/<slug>/gate/?environment=…&release=…&stage=…`
  answers 200 with `{"allowed": …, "reasons": [...]}` whatever the verdict (an Argo `web`
  metric reads `$.allowed`; a non-2xx would be a measurement error, not a refusal).
- Flagger: `POST /api/systems/<slug>/gate/flagger/<hook>/`, the canary webhook payload
  (name, namespace, phase, checksum, metadata). Flagger proceeds on a 2xx alone, so a
  refusal is 409. For `rollback` hooks the answer is turned around: 200 asks Flagger to roll
  the canary back (Failsafe refuses the release where it is, for a reason that a wait does not
  cure), 409 says carry on. Flagger sends no headers of its own: the API token may travel as
  `metadata.token` (or `Authorization: Bearer`, set by a proxy).

Both read `releases.services.deploy_gate.deployment_verdict`, the answer promotions get.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api.authentication import ApiTokenAuthentication, token_holder
from governance.api.validation import validated
from governance.http import api_actor
from governance.models import AISystem
from governance.permissions import can
from governance.roles import Action
from releases.models import Environment, Release, RolloutStage
from releases.services.deploy_gate import Verdict, deployment_verdict

# Flagger's hook types Failsafe answers, and the stage each asks about unless the webhook's
# metadata names one: a canary's traffic share is segment monitoring, its promotion general
# release; a rollback hook asks whether the canary may stay where it is.
FLAGGER_HOOKS = {
    "confirm-rollout": RolloutStage.SEGMENT_MONITORING,
    "confirm-traffic-increase": RolloutStage.SEGMENT_MONITORING,
    "confirm-promotion": RolloutStage.GENERAL_RELEASE,
    "rollback": RolloutStage.SEGMENT_MONITORING,
}
# Refusals that waiting does not cure: asked by a rollback hook, they roll the canary back.
ROLL_BACK_FOR = frozenset(
    {"not_approved", "rolled_back", "no_rollback_plan", "change_freeze", "rollback_in_flight"}
)
OK, CONFLICT = status.HTTP_200_OK, status.HTTP_409_CONFLICT
TEXT = 200  # Kubernetes names and label values are far shorter; a version is at most 100


class VerdictSerializer(serializers.Serializer):
    class ReasonSerializer(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()

    allowed = serializers.BooleanField()
    system = serializers.CharField()
    environment = serializers.CharField()
    release = serializers.CharField()
    stage = serializers.ChoiceField(choices=RolloutStage.choices)
    rollback = serializers.BooleanField(
        help_text="The release is the one a rollback of the environment puts back: it passes."
    )
    reasons = ReasonSerializer(many=True)


class GateQuerySerializer(serializers.Serializer):
    environment = serializers.SlugField(max_length=TEXT)
    release = serializers.CharField(max_length=TEXT, help_text="The release's version.")
    stage = serializers.ChoiceField(
        choices=RolloutStage.choices, default=RolloutStage.GENERAL_RELEASE
    )


class FlaggerMetadataSerializer(serializers.Serializer):
    environment = serializers.SlugField(max_length=TEXT)
    release = serializers.CharField(max_length=TEXT)
    stage = serializers.ChoiceField(choices=RolloutStage.choices, required=False)
    token = serializers.CharField(
        max_length=TEXT,
        required=False,
        write_only=True,
        help_text="An API token (fsk_…): Flagger's webhooks send no header of their own",
    )


class FlaggerPayloadSerializer(serializers.Serializer):
    """What Flagger POSTs to a webhook (CanaryWebhookPayload)."""

    name = serializers.CharField(max_length=TEXT)
    namespace = serializers.CharField(max_length=TEXT)
    phase = serializers.CharField(max_length=TEXT)
    checksum = serializers.CharField(max_length=TEXT, required=False, allow_blank=True)
    metadata = FlaggerMetadataSerializer()


class FlaggerMetadataToken(BaseAuthentication):
    """The API token in the webhook's `metadata.token`: Flagger's webhooks carry no header."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        data = request.data
        metadata = data.get("metadata") if isinstance(data, dict) else None
        secret = metadata.get("token") if isinstance(metadata, dict) else None
        if not isinstance(secret, str) or not secret:
            return None
        return token_holder(secret)

    def authenticate_header(self, request: Request) -> str:
        return ApiTokenAuthentication().authenticate_header(request)


# The gate sits on every deployment's path: its reads are written out, where compiling the
# ORM's statements cost more than running them (bench/gate.py). The system, the environment
# and the release come in one statement; who may not see the system learns nothing of them.
_SYSTEM_SQL = "SELECT id, name, slug FROM governance_aisystem WHERE slug = %(slug)s"
_SUBJECT_SQL = """
SELECT system.id, system.name, system.slug,
       environment.id, environment.system_id, environment.name, environment.slug,
       environment.is_production, release.id, release.system_id, release.version,
       release.status
FROM governance_aisystem AS system
LEFT JOIN releases_environment AS environment
    ON environment.system_id = system.id AND environment.slug = %(environment)s
LEFT JOIN releases_release AS release
    ON release.system_id = system.id AND release.version = %(version)s
WHERE system.slug = %(slug)s
"""
_SYSTEM_FIELDS = ["id", "name", "slug"]
_ENVIRONMENT_FIELDS = ["id", "system_id", "name", "slug", "is_production"]
_RELEASE_FIELDS = ["id", "system_id", "version", "status"]


class FlaggerMetadataTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI has no scheme for a token in the body: the operation's description and the
    payload's `metadata.token` document it; the bearer scheme stays listed beside it."""

    target_class = "releases.api.deploy_gate.FlaggerMetadataToken"
    name: list[str] = []  # no security scheme component of its own

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return []

    def get_security_requirement(self, auto_schema: Any) -> Any:
        return None  # drf-spectacular then lists no requirement for it


def _system_or_404(request: Request, slug: str) -> AISystem:
    """The system, if the asker may see it (404 if not): get_system_or_404, written out. For
    the answers that need no more than the system (a bad question, an unknown hook)."""
    with connection.cursor() as cursor:
        cursor.execute(_SYSTEM_SQL, {"slug": slug})
        row = cursor.fetchone()
    system = AISystem.from_db(connection.alias, _SYSTEM_FIELDS, row) if row else None
    _visible_or_404(request, system)
    assert system is not None
    return system


def _visible_or_404(request: Request, system: AISystem | None) -> None:
    if system is None or not can(api_actor(request), Action.VIEW, system):
        raise Http404("No such AI system.")


def _verdict_for(
    request: Request, slug: str, environment: str, version: str, stage: str
) -> Verdict:
    """The verdict on the release and environment named (404 for a system the asker may not
    see, then a 400 naming what is unknown), read in one statement.

    Only the columns the gate uses are read (the environment's backend secrets stay
    encrypted in the database)."""
    with connection.cursor() as cursor:
        cursor.execute(_SUBJECT_SQL, {"slug": slug, "environment": environment, "version": version})
        row = cursor.fetchone()
    system = AISystem.from_db(connection.alias, _SYSTEM_FIELDS, row[:3]) if row else None
    _visible_or_404(request, system)
    assert system is not None and row is not None
    errors = {}
    if row[3] is None:
        errors["environment"] = [f"{system.name} has no environment {environment!r}."]
    if row[8] is None:
        errors["release"] = [f"{system.name} has no release {version!r}."]
    if errors:
        raise serializers.ValidationError(errors)
    found_environment = Environment.from_db(connection.alias, _ENVIRONMENT_FIELDS, row[3:8])
    found_release = Release.from_db(connection.alias, _RELEASE_FIELDS, row[8:])
    found_release.system = found_environment.system = system
    return deployment_verdict(release=found_release, environment=found_environment, stage=stage)


def _question(
    request: Request, slug: str, serializer: type[serializers.Serializer], data: Any
) -> Any:
    """The question, validated; if it is bad, a 404 still comes first for a system the
    asker may not see."""
    try:
        return validated(serializer, data)
    except serializers.ValidationError:
        _system_or_404(request, slug)
        raise


class GateView(APIView):
    """May this release go to this stage of this environment now? Every reason if not."""

    @extend_schema(
        parameters=[
            OpenApiParameter("environment", str, required=True, description="its slug"),
            OpenApiParameter("release", str, required=True, description="its version"),
            OpenApiParameter(
                "stage", str, enum=RolloutStage.values, description="general_release if left out"
            ),
        ],
        responses=VerdictSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        query = _question(request, slug, GateQuerySerializer, request.query_params)
        verdict = _verdict_for(
            request, slug, query["environment"], query["release"], query["stage"]
        )
        return Response(verdict.as_json())


class FlaggerGateView(APIView):
    """Flagger's canary webhooks: confirm-rollout, confirm-traffic-increase, confirm-promotion
    (2xx: go on; 409: wait) and rollback (200: roll the canary back; 409: carry on)."""

    authentication_classes = [
        *APIView.authentication_classes,
        FlaggerMetadataToken,
    ]

    @extend_schema(
        request=FlaggerPayloadSerializer,
        responses={
            200: VerdictSerializer,
            409: OpenApiResponse(VerdictSerializer, description="refused (or: no rollback)"),
        },
    )
    def post(self, request: Request, slug: str, hook: str) -> Response:
        if hook not in FLAGGER_HOOKS:
            _system_or_404(request, slug)
            raise Http404(f"Failsafe answers Flagger's {', '.join(FLAGGER_HOOKS)} hooks.")
        payload = _question(request, slug, FlaggerPayloadSerializer, request.data)
        metadata = payload["metadata"]
        stage = metadata.get("stage") or FLAGGER_HOOKS[hook]
        verdict = _verdict_for(request, slug, metadata["environment"], metadata["release"], stage)
        body = verdict.as_json()
        if hook == "rollback":
            roll_back = any(r.code in ROLL_BACK_FOR for r in verdict.refusals)
            body["roll_back"] = roll_back
            return Response(body, status=OK if roll_back else CONFLICT)
        return Response(body, status=OK if verdict.allowed else CONFLICT)

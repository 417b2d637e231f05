"""The registry intake's API: MLflow's webhook, and the secrets and follows its owners manage.

The webhook (`POST /api/intake/mlflow/<system>/`) is authenticated by MLflow's signature,
not by a user: the path names the system, one of the system's live webhook secrets must
have signed the delivery id, timestamp and body (releases.intake.signature), and the
timestamp must be within five minutes. In order: the body's size (413 past
INTAKE_PAYLOAD_MAX_BYTES, before it is read), the signature (401: missing, malformed,
stale, forged or made with a revoked secret, and for a system that does not exist, so
the answer tells nothing of which systems do), then the JSON (400). It does the least it
can: the delivery recorded once per delivery id, the import scheduled after commit; MLflow
gets its answer at once.

Secrets and follows are the system's owners' (Action.CHANGE), as on the intake page: a
role holder without it gets 403, anyone who cannot see the system 404, before the body is
read. A new secret is in the one answer that creates it (no-store), never again.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api import types as api_types
from governance.api.errors import PayloadTooLarge
from governance.api.query import DocumentedQueryOnly
from governance.api.serializers import SlugRelatedField
from governance.api.validation import object_id, validated
from governance.http import api_actor
from governance.models import AISystem
from governance.permissions import get_system_or_404
from governance.roles import Action
from governance.tokens import act_with, mark_used
from releases import services
from releases.intake.signature import SignatureRefused, read_headers, signer
from releases.models import Comparison, ModelFollow, WebhookSecret
from releases.models.intake import MODEL_NAME
from releases.services.intake import MAPPABLE_CRITERIA, SECRET_NAME

TOKEN_LENGTH = 4000


def _content_length(request: Request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class MlflowSignatureAuthentication(BaseAuthentication):
    """MLflow's signed delivery: the system's live secret that signed it, or 401."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        limit = settings.INTAKE_PAYLOAD_MAX_BYTES
        if _content_length(request) > limit:
            raise PayloadTooLarge(f"A delivery is at most {limit} bytes.")
        try:
            signed = read_headers(request.headers)
        except SignatureRefused as refused:
            raise AuthenticationFailed(str(refused)) from None
        body = request._request.body  # the bytes MLflow signed, before any parsing
        kwargs = request.parser_context["kwargs"] if request.parser_context else {}
        system = AISystem.objects.filter(slug=str(kwargs.get("slug", ""))[:80]).first()
        live = (
            list(WebhookSecret.objects.filter(system=system, revoked_at__isnull=True))
            if system is not None
            else []
        )
        secret = signer(signed, body, ((s, s.secret) for s in live))
        if secret is None:
            raise AuthenticationFailed(
                "The signature matches no live webhook secret of this system (forged, made "
                "with a revoked secret, or sent to another system's address)."
            )
        mark_used(secret)
        act_with(secret, "MLflow webhook secret")
        request.delivery_id = signed.delivery_id  # type: ignore[attr-defined]
        return (None, secret)  # no user: the secret speaks for its system

    def authenticate_header(self, request: Request) -> str:
        return 'MLflow-Signature realm="mlflow-webhook"'


class IsSigned(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth is not None


class DeliveryAnswerSerializer(api_types.Serializer):
    delivery = serializers.IntegerField(allow_null=True, help_text="Null: nothing recorded")
    detail = serializers.CharField()


class MlflowWebhookView(APIView):
    """Where an MLflow webhook posts (MLflow 3.3 or later, with a secret)."""

    authentication_classes = [MlflowSignatureAuthentication]
    permission_classes = [IsSigned, DocumentedQueryOnly]

    @extend_schema(
        request=dict,
        responses={
            202: OpenApiResponse(DeliveryAnswerSerializer, "The version's import is scheduled"),
            200: OpenApiResponse(
                DeliveryAnswerSerializer,
                "Recorded (an alias moved), replayed (this delivery id was received before), "
                "already imported, or ignored (a model the system does not follow)",
            ),
            401: OpenApiResponse(
                description="Unsigned, stale (over five minutes from Failsafe's clock), "
                "forged, or signed with a revoked secret: nothing recorded"
            ),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        secret = cast(WebhookSecret, request.auth)
        payload = request.data  # JSON only: malformed is a 400 (ParseError), nothing recorded
        delivery, detail = services.receive_delivery(
            system=secret.system,
            secret=secret,
            delivery_id=request.delivery_id,  # type: ignore[attr-defined]
            payload=payload,
        )
        scheduled = delivery is not None and detail.startswith("Import of")
        return Response(
            {"delivery": delivery.pk if delivery else None, "detail": detail},
            status=status.HTTP_202_ACCEPTED if scheduled else status.HTTP_200_OK,
        )


class SignatureScheme(OpenApiAuthenticationExtension):
    target_class = MlflowSignatureAuthentication
    name = "mlflowSignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-MLflow-Signature",
            "description": "MLflow's v1 HMAC-SHA256 signature of X-MLflow-Delivery-Id, "
            "X-MLflow-Timestamp and the body, with a per-system webhook secret (fsw_…).",
        }


# --- webhook secrets ---------------------------------------------------------------------


def webhook_url(request: Request, system: AISystem) -> str:
    return request.build_absolute_uri(reverse("mlflow-webhook", args=[system.slug]))


class WebhookSecretSerializer(api_types.ModelSerializer):
    created_by: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="username", read_only=True
    )
    name = serializers.CharField(max_length=SECRET_NAME)

    class Meta:
        model = WebhookSecret
        fields = ["id", "name", "prefix", "created_by", "created_at", "revoked_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_by", "created_at", "revoked_at",
                            "last_used_at"]  # fmt: skip


class NewWebhookSecretSerializer(WebhookSecretSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Shown in this answer only: put it in MLflow's webhook"
    )
    webhook_url = serializers.CharField(read_only=True)

    class Meta(WebhookSecretSerializer.Meta):
        fields = [*WebhookSecretSerializer.Meta.fields, "secret", "webhook_url"]


class WebhookSecretsView(APIView):
    """A system's MLflow webhook secrets (system owners)."""

    @extend_schema(responses=WebhookSecretSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        secrets = system.webhook_secrets.select_related("created_by").order_by("-created_at", "-id")
        return Response(WebhookSecretSerializer(secrets, many=True).data)

    @extend_schema(request=WebhookSecretSerializer, responses={201: NewWebhookSecretSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """A new secret, in this answer only."""
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        data = validated(WebhookSecretSerializer, request.data)
        created, secret = services.create_webhook_secret(
            actor=api_actor(request), system=system, name=data["name"]
        )
        body = {
            **WebhookSecretSerializer(created).data,
            "secret": str(secret),
            "webhook_url": webhook_url(request, system),
        }
        response = Response(body, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)
        return response


class WebhookSecretRevokeView(APIView):
    @extend_schema(request=None, responses=WebhookSecretSerializer)
    def post(self, request: Request, slug: str, secret_id: str) -> Response:
        """Revoke a secret: deliveries signed with it are refused (401) from now on."""
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        secret = get_object_or_404(system.webhook_secrets, pk=object_id(secret_id))
        revoked = services.revoke_webhook_secret(actor=api_actor(request), secret=secret)
        return Response(WebhookSecretSerializer(revoked).data)


# --- follows -------------------------------------------------------------------------------


class MetricRuleSerializer(api_types.Serializer):
    criterion = serializers.ChoiceField(choices=[(c.value, c.label) for c in MAPPABLE_CRITERIA])
    comparison = serializers.ChoiceField(choices=Comparison.choices[:4])
    target = serializers.DecimalField(max_digits=20, decimal_places=6)


class ModelFollowSerializer(api_types.ModelSerializer):
    model_name = serializers.CharField(
        max_length=MODEL_NAME, help_text="The registered model's name in MLflow"
    )
    tracking_uri = serializers.CharField(
        max_length=500, help_text="The MLflow tracking server the runs are read from"
    )
    token = serializers.CharField(
        max_length=TOKEN_LENGTH,
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Bearer token for MLflow (write-only); on PUT, omitted keeps it, '' removes it",
    )
    has_token = serializers.BooleanField(read_only=True)
    metric_criteria = serializers.DictField(
        child=MetricRuleSerializer(),
        required=False,
        help_text="Metric the run logs → the gate criterion it evidences; the rest are notes",
    )
    created_by: serializers.SlugRelatedField = SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ModelFollow
        fields = ["id", "model_name", "tracking_uri", "token", "has_token", "metric_criteria",
                  "created_by", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = ["id", "has_token", "created_by", "created_at", "updated_at"]


class FollowUpdateSerializer(ModelFollowSerializer):
    """A follow's changes: everything but the model it follows (a new model is a new follow)."""

    model_name = serializers.CharField(read_only=True)


def _criteria(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        metric: {**rule, "target": str(rule["target"])}
        for metric, rule in (data.get("metric_criteria") or {}).items()
    }


class ModelFollowsView(APIView):
    """The MLflow registered models a system follows (system owners)."""

    @extend_schema(responses=ModelFollowSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        follows = system.model_follows.select_related("created_by").order_by("model_name", "id")
        return Response(ModelFollowSerializer(follows, many=True).data)

    @extend_schema(request=ModelFollowSerializer, responses={201: ModelFollowSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """Follow a registered model: its new versions arrive as draft releases."""
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        data = validated(ModelFollowSerializer, request.data)
        follow = services.follow_model(
            actor=api_actor(request),
            system=system,
            model_name=data["model_name"],
            tracking_uri=data["tracking_uri"],
            metric_criteria=_criteria(data),
            token=data.get("token", ""),
        )
        return Response(ModelFollowSerializer(follow).data, status=status.HTTP_201_CREATED)


class ModelFollowView(APIView):
    def _follow(self, request: Request, slug: str, follow_id: str) -> ModelFollow:
        system = get_system_or_404(api_actor(request), slug, Action.CHANGE)
        return get_object_or_404(
            system.model_follows.select_related("system", "created_by"), pk=object_id(follow_id)
        )

    @extend_schema(responses=ModelFollowSerializer)
    def get(self, request: Request, slug: str, follow_id: str) -> Response:
        return Response(ModelFollowSerializer(self._follow(request, slug, follow_id)).data)

    @extend_schema(request=FollowUpdateSerializer, responses=ModelFollowSerializer)
    def put(self, request: Request, slug: str, follow_id: str) -> Response:
        """Change the tracking URL, the token and the metric mapping (not the model)."""
        follow = self._follow(request, slug, follow_id)
        data = validated(FollowUpdateSerializer, request.data)
        follow = services.update_follow(
            actor=api_actor(request),
            follow=follow,
            tracking_uri=data["tracking_uri"],
            metric_criteria=_criteria(data),
            token=data.get("token"),
        )
        return Response(ModelFollowSerializer(follow).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, follow_id: str) -> Response:
        """Stop following: new versions stop arriving; what arrived stays."""
        follow = self._follow(request, slug, follow_id)
        services.unfollow_model(actor=api_actor(request), follow=follow)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""`GET /api/systems/<slug>/evidence-pack/?from=…&to=…`: the signed evidence pack, streamed."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from governance.evidence.pack.period import parse_period
from governance.evidence.pack.services import EvidenceExportFailed, export_evidence_pack
from governance.evidence.pack.views import FAILED, pack_response
from governance.evidence.sign import SigningKeyMissing
from governance.http import api_actor
from governance.permissions import get_system_or_404
from governance.roles import Action


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "unavailable"


class ExportFailed(exceptions.APIException):
    """The server could not make the pack (a fault of its own, not of the request): a 500 with
    a JSON body, sent before any byte of a ZIP."""

    status_code = 500
    default_code = "export_failed"


class EvidencePackView(APIView):
    """The signed evidence pack of an AI system for a period (compliance officers, owners)."""

    @extend_schema(
        operation_id="systems_evidence_pack",
        summary="Download the signed evidence pack (ZIP)",
        description=(
            "Streams a ZIP: every section as JSON and CSV, the audit events of the period as "
            "JSON Lines (one segment of the system's hash chain), the control mapping, the "
            "report in HTML and PDF, `manifest.json` (each file's sha256 and size, the chain's "
            "first and last hash and its head) and `manifest.sig`, the manifest's Ed25519 "
            "signature (base64). Check it with `manage.py verify_evidence`. The period is whole "
            "UTC days, both included. The export is recorded in the audit trail. Everything "
            "that can fail is built before the first byte: an export that fails answers "
            "500 with a JSON `detail`, never a partial ZIP, and is recorded as "
            "`evidence.export_failed`."
        ),
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                required=True,
                description="First day of the period (YYYY-MM-DD, UTC).",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                required=True,
                description="Last day of the period (YYYY-MM-DD, UTC), included.",
            ),
        ],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, "The evidence pack."),
            400: OpenApiResponse(description="The period is missing, malformed or inverted."),
            403: OpenApiResponse(description="You may see the system but not export evidence."),
            404: OpenApiResponse(description="No such system, or not one you may see."),
            500: OpenApiResponse(
                description="The pack could not be made; nothing was sent. Recorded in the "
                "audit trail as `evidence.export_failed`."
            ),
            503: OpenApiResponse(description="No signing key is configured on the server."),
        },
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        system = get_system_or_404(request.user, slug, Action.EXPORT_EVIDENCE)
        period = parse_period(request.query_params.get("from"), request.query_params.get("to"))
        try:
            pack = export_evidence_pack(actor=api_actor(request), system=system, period=period)
        except SigningKeyMissing as error:
            raise ServiceUnavailable(str(error)) from None
        except EvidenceExportFailed:
            request_id = getattr(request, "request_id", "")
            raise ExportFailed(f"{FAILED} Request id: {request_id}.") from None
        return pack_response(pack)

"""The evidence-pack page: pick a period, download the signed ZIP. Thin: the service decides."""

from __future__ import annotations

from django.http import HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from governance.evidence.pack.archive import EvidencePack
from governance.evidence.pack.forms import EvidencePackForm
from governance.evidence.pack.services import EvidenceExportFailed, export_evidence_pack
from governance.evidence.sign import SigningKeyMissing
from governance.http import AuthenticatedHttpRequest
from governance.permissions import get_system_or_404
from governance.roles import Action


def pack_response(pack: EvidencePack) -> StreamingHttpResponse:
    """The ZIP as it is written: no length known in advance, nothing buffered. The response
    closes the pack (and the snapshot it holds) however it ends."""
    response = StreamingHttpResponse(pack, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# What the person is told when a pack could not be made (the reason itself, which may quote
# the server's internals, is for the audit trail and the logs).
FAILED = (
    "The evidence pack could not be made, and nothing was downloaded. The failure is recorded "
    "in the audit trail; tell your administrator, quoting its request id."
)


@require_GET
def evidence_pack(request: AuthenticatedHttpRequest, slug: str) -> HttpResponseBase:
    """Without a period: the form. With one (`?from=…&to=…`): the pack, or the form's errors."""
    system = get_system_or_404(request.user, slug, Action.EXPORT_EVIDENCE)
    asked = "from" in request.GET or "to" in request.GET
    form = EvidencePackForm(request.GET if asked else None)
    problem, status = "", 400 if form.errors else 200
    if asked and form.is_valid():
        try:
            pack = export_evidence_pack(actor=request.user, system=system, period=form.period)
        except SigningKeyMissing as error:
            problem, status = str(error), 503  # the server is not set up to sign: not yet
        except EvidenceExportFailed:
            problem, status = FAILED, 500
        else:
            return pack_response(pack)
    context = {"system": system, "form": form, "problem": problem,
               "request_id": getattr(request, "request_id", "")}  # fmt: skip
    return render(request, "governance/evidence/pack.html", context, status=status)

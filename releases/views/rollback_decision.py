"""The page a proposal's notice links to: the proposal, its evidence, and Confirm / Dismiss
for whoever may roll the system back. The link is signed and expires
(releases.rollbacks.decision_links); confirming is a POST by a signed-in person with the
role, through the same services as the war room's buttons."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from governance.http import AuthenticatedHttpRequest
from governance.limits import NOTE
from governance.permissions import can, people_of
from governance.roles import Action
from releases import rollbacks
from releases.models import RollbackRequest, RollbackStatus
from releases.notifications import evidence_line, link_for
from releases.rollbacks.decision_links import LinkRefused, check_link


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("dismiss", "Dismiss")])
    reason = forms.CharField(max_length=NOTE, required=False)


@require_http_methods(["GET", "POST"])
def rollback_decision(request: AuthenticatedHttpRequest, pk: int, token: str) -> HttpResponse:
    proposal = (
        RollbackRequest.objects.select_related(
            "environment__system", "from_release", "to_release", "confirmed_by"
        )
        .filter(pk=pk)
        .first()
    )
    if proposal is None or not can(request.user, Action.VIEW, proposal.environment.system):
        raise Http404("No such rollback.")
    system = proposal.environment.system
    elsewhere = link_for(proposal)
    try:
        check_link(pk, token)
    except LinkRefused as refused:
        context = {"proposal": proposal, "refused": str(refused), "elsewhere": elsewhere}
        status = 410 if refused.expired else 400
        return render(request, "releases/rollback_decision.html", context, status=status)
    may_decide = can(request.user, Action.REQUEST_ROLLBACK, system)
    form = DecisionForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            try:
                if form.cleaned_data["decision"] == "confirm":
                    rollbacks.confirm_rollback(actor=request.user, request=proposal)
                    messages.success(request, "Confirmed: the rollback runs now.")
                else:
                    rollbacks.dismiss_rollback(
                        actor=request.user, request=proposal, reason=form.cleaned_data["reason"]
                    )
                    messages.success(request, "Proposal dismissed.")
            except ValidationError as error:
                errors = error.messages
            else:
                return redirect(elsewhere.url)
        else:
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    context = {
        "proposal": proposal,
        "system": system,
        "elsewhere": elsewhere,
        "may_decide": may_decide and proposal.status == RollbackStatus.PROPOSED,
        "deciders": [] if may_decide else list(people_of(system, Action.REQUEST_ROLLBACK)),
        "errors": errors,
        "evidence": evidence_line(proposal.trigger) if proposal.trigger else "",
    }
    return render(
        request, "releases/rollback_decision.html", context, status=400 if errors else 200
    )

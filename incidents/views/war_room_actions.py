"""The war room's actions: each POST a form on the page sends (move the stage, assign a role,
post, contain, classify serious and record the reports, ROLL BACK NOW), run through one
helper that answers back to the room, or the room with the errors."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from governance.http import AuthenticatedHttpRequest
from governance.people import display_name
from governance.permissions import people_of, require
from governance.roles import Action
from governance.views import apply_service_errors
from incidents import queries, services
from incidents.forms import (
    CausalLinkForm,
    ContainmentForm,
    ContainmentStatusForm,
    DriftAdoptForm,
    HotfixForm,
    OperatorNoticeForm,
    PostForm,
    ReportSentForm,
    RoleForm,
    RollbackDecisionForm,
    RollbackForm,
    SeriousForm,
    SeverityForm,
    StageForm,
)
from incidents.models import (
    ContainmentAction,
    EntryKind,
    Incident,
    IncidentRole,
    IncidentRoleKind,
    IncidentRollback,
    TimelineEntry,
)
from incidents.views.war_room import room_context, room_version
from releases import drift, rollbacks
from releases.drift import open_drift
from releases.models import Release, RollbackStatus

# --- actions -------------------------------------------------------------------------------


def _act(
    request: AuthenticatedHttpRequest,
    pk: int,
    form: Form,
    call: Callable[[Incident, dict], str],
    needs: Action,
    anchor: str = "",
) -> HttpResponse:
    """Run one war-room action: back to the room on success, else the room with the errors
    (400). Who may not act at all is refused (403) before their input is read; a refused
    action changed nothing, the service's transaction having rolled back."""
    # The light lookup: the services lock and reload what they change; the whole room is
    # loaded only to show errors.
    incident = queries.incident_to_act_on(pk, request.user)
    require(request.user, needs, incident.system)
    errors: list[str] = []
    if form.is_valid():
        try:
            message = call(incident, form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, message)
            url = incident.get_absolute_url() + (f"#{anchor}" if anchor else "")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    for field, field_errors in form.errors.items():
        label = (
            form.fields[field].label or field.replace("_", " ").capitalize()
            if field in form.fields
            else ""
        )
        errors += [f"{label}: {e}" if label else str(e) for e in field_errors]
    incident = queries.incident_detail(pk, request.user)
    context = room_context(request, incident, room_version(pk, request))
    context["errors"] = errors
    return render(request, "incidents/war_room.html", context, status=400)


@require_POST
def stage_move(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def move(incident: Incident, data: dict) -> str:
        moved = services.move_stage(actor=request.user, incident=incident, **data)
        return f"Now in {moved.get_stage_display()}."

    return _act(request, pk, StageForm(request.POST), move, Action.LEAD_INCIDENT)


@require_POST
def severity_change(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def change(incident: Incident, data: dict) -> str:
        changed = services.change_severity(actor=request.user, incident=incident, **data)
        return f"Severity is now {changed.get_severity_display()}."

    return _act(request, pk, SeverityForm(request.POST), change, Action.LEAD_INCIDENT)


@require_POST
def role_assign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = queries.incident_detail(pk, request.user)

    def assign(incident: Incident, data: dict) -> str:
        assignment = services.assign_role(actor=request.user, incident=incident, **data)
        role = IncidentRoleKind(assignment.role)
        return f"{display_name(assignment.user)} is {role.in_a_sentence}."

    form = RoleForm(request.POST, people=people_of(incident.system))
    return _act(request, pk, form, assign, Action.LEAD_INCIDENT, anchor="roles")


@require_POST
def role_release(request: AuthenticatedHttpRequest, pk: int, assignment_id: int) -> HttpResponse:
    incident = queries.incident_detail(pk, request.user)
    assignment = get_object_or_404(IncidentRole, incident=incident, pk=assignment_id)

    def end(incident: Incident, data: dict) -> str:
        services.release_role(actor=request.user, assignment=assignment)
        return f"{display_name(assignment.user)} stepped down."

    return _act(request, pk, Form(request.POST), end, Action.LEAD_INCIDENT, anchor="roles")


@require_POST
def post_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def post(incident: Incident, data: dict) -> str:
        services.post_update(actor=request.user, incident=incident, **data)
        return "Status update posted." if data["kind"] == EntryKind.STATUS_UPDATE else "Noted."

    # The service decides between note and status update (the scribe's right is per incident).
    return _act(request, pk, PostForm(request.POST), post, Action.VIEW, anchor="timeline")


@require_POST
def entry_pin(request: AuthenticatedHttpRequest, pk: int, entry_id: int) -> HttpResponse:
    incident = queries.incident_detail(pk, request.user)
    entry = get_object_or_404(TimelineEntry, incident=incident, pk=entry_id)

    def pin(incident: Incident, data: dict) -> str:
        services.pin_entry(actor=request.user, entry=entry)
        return "Pinned."

    return _act(request, pk, Form(request.POST), pin, Action.RESPOND_INCIDENT, anchor="pinned")


@require_POST
def containment_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def contain(incident: Incident, data: dict) -> str:
        action = services.request_containment(actor=request.user, incident=incident, **data)
        return f"{action.get_kind_display()} requested."

    form = ContainmentForm(request.POST)
    return _act(request, pk, form, contain, Action.RESPOND_INCIDENT, anchor="containment")


@require_POST
def containment_status(request: AuthenticatedHttpRequest, pk: int, action_id: int) -> HttpResponse:
    incident = queries.incident_detail(pk, request.user)
    action = get_object_or_404(ContainmentAction, incident=incident, pk=action_id)

    def mark(incident: Incident, data: dict) -> str:
        changed = services.set_containment_status(actor=request.user, action=action, **data)
        return f"{changed.get_kind_display()}: {changed.get_status_display().lower()}."

    form = ContainmentStatusForm(request.POST)
    return _act(request, pk, form, mark, Action.RESPOND_INCIDENT, anchor="containment")


@require_POST
def serious_classify(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def classify(incident: Incident, data: dict) -> str:
        services.classify_serious(actor=request.user, incident=incident, **data)
        return "Classified serious: the reporting clock is running."

    form = SeriousForm(request.POST)
    return _act(request, pk, form, classify, Action.LEAD_INCIDENT, anchor="reporting")


@require_POST
def causal_link(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def established(incident: Incident, data: dict) -> str:
        services.record_causal_link(actor=request.user, incident=incident, **data)
        return "Causal link recorded: report immediately."

    form = CausalLinkForm(request.POST)
    return _act(request, pk, form, established, Action.LEAD_INCIDENT, anchor="reporting")


@require_POST
def report_sent(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def sent(incident: Incident, data: dict) -> str:
        services.record_report_sent(actor=request.user, incident=incident, **data)
        return "Report recorded."

    form = ReportSentForm(request.POST)
    return _act(request, pk, form, sent, Action.LEAD_INCIDENT, anchor="reporting")


@require_POST
def operator_notice(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def informed(incident: Incident, data: dict) -> str:
        notice = services.record_operator_notice(actor=request.user, incident=incident, **data)
        return f"{notice.get_recipient_display()} {notice.name}: notice recorded."

    form = OperatorNoticeForm(request.POST)
    return _act(request, pk, form, informed, Action.LEAD_INCIDENT, anchor="reporting")


@require_POST
def hotfix_cite(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def cite(incident: Incident, data: dict) -> str:
        release = Release.objects.filter(system_id=incident.system_id, pk=data["release"]).first()
        if release is None:
            raise ValidationError({"release": "Choose a release of this incident's system."})
        services.cite_hotfix(actor=request.user, incident=incident, release=release)
        return f"{release.version} is the hotfix: it may be promoted through the change freeze."

    return _act(request, pk, HotfixForm(request.POST), cite, Action.LEAD_INCIDENT, anchor="release")


@require_POST
def rollback_now(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def roll_back(incident: Incident, data: dict) -> str:
        try:
            rollback, created = services.roll_back_incident(
                actor=request.user,
                incident=incident,
                reason=data["reason"],
                further=data["further"],
                expected_from=data["expected_from"] or None,
                expected_target=data["expected_target"] or None,
            )
        except ValidationError as error:  # whole sentences about the releases: shown as such
            raise ValidationError(error.messages) from error
        to = rollback.to_release.version
        if not created and rollback.status == RollbackStatus.SUCCEEDED:
            return f"{to} is live already: rollback #{rollback.pk} put it back."
        if not created:
            return f"A rollback to {to} is already {rollback.get_status_display().lower()}."
        return f"Rolling back{' further' if data['further'] else ''} to {to}: requested."

    form = RollbackForm(request.POST)
    return _act(request, pk, form, roll_back, Action.REQUEST_ROLLBACK, anchor="release")


@require_POST
def drift_adopt(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Keep what an ungoverned change put live: the release it runs becomes the recorded one
    (release managers, with a reason; the service refuses a release not approved)."""

    def adopt(incident: Incident, data: dict) -> str:
        found = open_drift(incident.environment) if incident.environment else None
        if found is None:
            raise ValidationError("No ungoverned change is open here: nothing to adopt.")
        if data["expected"] != found.observed_label:
            raise ValidationError(
                f"The page was out of date: the backend reports {found.observed_label} now, "
                f"not {data['expected']}. Nothing was done; look again."
            )
        adopted = drift.adopt_drift(actor=request.user, drift=found, reason=data["reason"])
        version = adopted.observed_release.version if adopted.observed_release else ""
        return f"{version} adopted: the recorded release in {found.environment.name} now."

    form = DriftAdoptForm(request.POST)
    return _act(request, pk, form, adopt, Action.APPROVE_RELEASE, anchor="release")


@require_POST
def rollback_decide(request: AuthenticatedHttpRequest, pk: int, request_id: int) -> HttpResponse:
    """Confirm or dismiss a rollback the plan's triggers proposed."""
    incident = queries.incident_detail(pk, request.user)
    link = get_object_or_404(IncidentRollback, incident=incident, request_id=request_id)

    def decide(incident: Incident, data: dict) -> str:
        if data["decision"] == "confirm":
            rollbacks.confirm_rollback(actor=request.user, request=link.request)
            return "Confirmed: the rollback runs now."
        rollbacks.dismiss_rollback(actor=request.user, request=link.request, reason=data["reason"])
        return "Proposal dismissed."

    form = RollbackDecisionForm(request.POST)
    return _act(request, pk, form, decide, Action.REQUEST_ROLLBACK, anchor="release")

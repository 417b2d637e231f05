"""The blameless post-mortem of an incident, its action items, and publishing it.

Everyone who sees the system reads the page; responders write the review and its action
items, the on-call lead publishes it (which closes the incident). Once published, the review
is read-only; its action items still move (owner, due date, status) until they are done.
Every write goes through incidents.services.postmortem, which holds the rules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.permissions import allowed_actions, people_of, require
from governance.roles import Action
from governance.views import apply_service_errors
from incidents.filters import in_work_order, with_overdue
from incidents.forms_postmortem import ActionItemForm, ActionItemUpdateForm, PostMortemForm
from incidents.models import (
    ActionItem,
    ActionItemStatus,
    EntryKind,
    Incident,
    PostMortem,
    TimelineEntry,
)
from incidents.queries import incidents_for
from incidents.services import (
    add_action_item,
    publish_postmortem,
    save_postmortem,
    update_action_item,
)
from incidents.services.postmortem import REQUIRED_TO_PUBLISH, publication_problems

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The excerpt shows how the incident unfolded, not the whole war room: its pinned entries
# and stage changes, at most this many.
TIMELINE_EXCERPT = 30
ITEMS_CHANGED = "action-items-changed"  # htmx event: panels that count action items refresh

MILESTONES = (
    ("Detected", "detected_at"),
    ("Acknowledged", "acknowledged_at"),
    ("Contained", "contained_at"),
    ("Rolled back", "rolled_back_at"),
    ("Recovered", "recovered_at"),
    ("Closed", "closed_at"),
)


def _incident(request: AuthenticatedHttpRequest, pk: int) -> Incident:
    """The incident, if its system is visible to the user; 404 otherwise."""
    return get_object_or_404(incidents_for(request.user).select_related("declared_by"), pk=pk)


def _page_url(incident: Incident, anchor: str = "") -> str:
    return reverse("incidents:postmortem", kwargs={"pk": incident.pk}) + anchor


def _people(system: AISystem) -> list[User]:
    """Who may own an action item: active users who can see the system (one query)."""
    return list(people_of(system, Action.VIEW))


def _elapsed(delta: timedelta) -> str:
    """A duration as people say it in a review: 47 min, 3 h 05 min, 2 d 4 h."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _milestones(incident: Incident) -> list[dict[str, Any]]:
    return [
        {"label": label, "at": at, "after": _elapsed(at - incident.detected_at)}
        for label, attribute in MILESTONES
        if (at := getattr(incident, attribute)) is not None
    ]


def _timeline_excerpt(incident: Incident) -> tuple[list[dict[str, Any]], bool]:
    entries = list(
        TimelineEntry.objects.filter(incident=incident)
        .filter(Q(pin__isnull=False) | Q(kind__in=(EntryKind.DECLARED, EntryKind.STAGE)))
        .select_related("pin", "actor")
        .order_by("occurred_at", "id")[: TIMELINE_EXCERPT + 1]
    )
    excerpt = [
        {
            "entry": entry,
            "after": _elapsed(entry.occurred_at - incident.detected_at),
            "pinned": hasattr(entry, "pin"),
        }
        for entry in entries[:TIMELINE_EXCERPT]
    ]
    return excerpt, len(entries) > TIMELINE_EXCERPT


def _context(
    request: AuthenticatedHttpRequest,
    incident: Incident,
    *,
    postmortem_form: PostMortemForm | None = None,
    item_form: ActionItemForm | None = None,
    failed_row: tuple[int, ActionItemUpdateForm] | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, in a fixed number of queries whatever the incident's size."""
    actions = allowed_actions(request.user, incident.system)
    postmortem = PostMortem.objects.filter(incident=incident).select_related("published_by").first()
    published = postmortem is not None and postmortem.published_at is not None
    can_respond = Action.RESPOND_INCIDENT in actions
    people = _people(incident.system) if can_respond else []
    items = list(in_work_order(with_overdue(incident.action_items.select_related("owner"))))

    def row_form(item: ActionItem) -> ActionItemUpdateForm | None:
        if not can_respond:
            return None
        if failed_row is not None and failed_row[0] == item.pk:
            return failed_row[1]
        return ActionItemUpdateForm.for_item(item, people=people)

    if postmortem_form is None and can_respond and not published:
        postmortem_form = PostMortemForm(initial=PostMortemForm.initial_from(postmortem))
    page_errors = list(errors or [])
    errors_title = "The post-mortem was not published."
    if published and postmortem_form is not None and postmortem_form.is_bound:
        # The service refused a save of the published review: the form is not shown; say why.
        page_errors += [str(error) for error in postmortem_form.non_field_errors()]
        errors_title = "Not saved."
    excerpt, excerpt_cut = _timeline_excerpt(incident)
    end, contained = incident.recovered_at or incident.closed_at, incident.contained_at
    return {
        "incident": incident,
        "actions": actions,
        "postmortem": postmortem,
        "published": published,
        "can_respond": can_respond,
        "can_publish": Action.LEAD_INCIDENT in actions and not published,
        "postmortem_form": postmortem_form if not published else None,
        "required_to_publish": REQUIRED_TO_PUBLISH,
        "problems": [] if published else publication_problems(incident),
        "rows": [(item, row_form(item)) for item in items],
        "open_count": sum(item.status != ActionItemStatus.DONE for item in items),
        "unowned_count": sum(item.owner_id is None for item in items),
        "overdue_count": sum(bool(item.is_overdue) for item in items),  # type: ignore[attr-defined]
        "item_form": item_form or (ActionItemForm(people=people) if can_respond else None),
        "milestones": _milestones(incident),
        "duration": _elapsed(end - incident.detected_at) if end else None,
        "to_contain": _elapsed(contained - incident.detected_at) if contained else None,
        "excerpt": excerpt,
        "excerpt_cut": excerpt_cut,
        "errors": page_errors,
        "errors_title": errors_title,
        "today": timezone.localdate(),
    }


def _render_page(
    request: AuthenticatedHttpRequest, incident: Incident, status: int = 200, **kwargs: Any
) -> HttpResponse:
    return render(
        request, "incidents/postmortem.html", _context(request, incident, **kwargs), status=status
    )


@require_http_methods(["GET", "POST"])
def postmortem_page(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    if request.method == "GET":
        return _render_page(request, incident)
    require(request.user, Action.RESPOND_INCIDENT, incident.system)
    form = PostMortemForm(request.POST)
    if form.is_valid():
        try:
            save_postmortem(actor=request.user, incident=incident, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Post-mortem saved.")
            return redirect(_page_url(incident))
    return _render_page(request, incident, status=400, postmortem_form=form)


@require_POST
def postmortem_publish(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    require(request.user, Action.LEAD_INCIDENT, incident.system)
    try:
        publish_postmortem(actor=request.user, incident=incident)
    except ValidationError as error:
        # Nothing changed (the service's transaction rolled back): the page says what is missing.
        return _render_page(request, incident, status=400, errors=error.messages)
    messages.success(request, f"Post-mortem published. INC-{incident.pk} is closed.")
    return redirect(_page_url(incident))


def _items_changed(
    request: AuthenticatedHttpRequest, incident: Incident, message: str
) -> HttpResponse:
    """After a change to the action items: the fresh table (htmx), else back to the page."""
    if request.htmx:
        context = {**_context(request, incident), "notice": message}
        response = render(request, "incidents/_action_items.html", context)
        return trigger_client_event(response, ITEMS_CHANGED)
    messages.success(request, message)
    return redirect(_page_url(incident, "#action-items"))


def _items_refused(
    request: AuthenticatedHttpRequest, incident: Incident, **forms: Any
) -> HttpResponse:
    template = "incidents/_action_items.html" if request.htmx else "incidents/postmortem.html"
    return render(request, template, _context(request, incident, **forms), status=400)


@require_POST
def action_item_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    require(request.user, Action.RESPOND_INCIDENT, incident.system)
    form = ActionItemForm(request.POST, people=_people(incident.system))
    if form.is_valid():
        try:
            item = add_action_item(actor=request.user, incident=incident, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            return _items_changed(request, incident, f"Action item added: {item.title}")
    return _items_refused(request, incident, item_form=form)


@require_POST
def action_item_update(request: AuthenticatedHttpRequest, pk: int, item_id: int) -> HttpResponse:
    incident = _incident(request, pk)
    item = get_object_or_404(incident.action_items.select_related("owner"), pk=item_id)
    require(request.user, Action.RESPOND_INCIDENT, incident.system)
    form = ActionItemUpdateForm.for_item(item, people=_people(incident.system), data=request.POST)
    if form.is_valid():
        try:
            item = update_action_item(actor=request.user, item=item, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            return _items_changed(request, incident, f"Action item updated: {item.title}")
    return _items_refused(request, incident, failed_row=(item.pk, form))

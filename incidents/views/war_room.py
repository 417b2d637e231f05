"""The incident list, declaring an incident, and the war room with its live updates (its
actions, the forms it posts, are in war_room_actions.py).

The war room polls `live/` every few seconds with a token of what it shows. While nothing
of the system has changed the answer is an empty 204 (htmx swaps nothing) that costs three
queries; after a change it carries the panels to replace out of band and the timeline
entries the page does not have yet.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.http import require_GET, require_http_methods

from config.health import background_trouble
from governance.http import AuthenticatedHttpRequest
from governance.pagecache import cached_page, owning_system, system_version
from governance.people import names_of
from governance.permissions import allowed_actions, people_of, visible_systems
from governance.roles import Action
from governance.views import apply_service_errors
from incidents import queries, services
from incidents.art73 import (
    application_dates,
    first_report_at,
    harm_label,
    member_state_choices,
    reporting_clock,
    reporting_notices,
    rules,
)
from incidents.change_freeze import FREEZING_SEVERITIES, FREEZING_STAGES
from incidents.forms import (
    DeclareForm,
    IncidentListFilter,
    chosen_system,
)
from incidents.models import (
    ContainmentKind,
    Incident,
    IncidentRole,
    IncidentRoleKind,
    IncidentRollback,
    Severity,
    Stage,
    TimelineEntry,
)
from incidents.services.lifecycle import ORDER, REOPENABLE_FROM
from releases import rollbacks
from releases.content import release_content
from releases.drift import open_drift
from releases.models import ComponentKind, Release, ReleaseStatus, RollbackMode
from releases.queries import live_release

LIST_PAGE_SIZE = 50
TIMELINE_PAGE = 100  # entries on the page; earlier ones load on demand
POLL_SECONDS = 3
CLOCK_SECONDS = 60  # elapsed times and the reporting clock are exact to the minute
LEAD_ROLES = {IncidentRoleKind.COMMANDER, IncidentRoleKind.SCRIBE}


# --- list and declaration ------------------------------------------------------------------


@require_GET
def incident_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    incidents = queries.incidents_for(request.user).prefetch_related(queries.current_commander())
    filterset = IncidentListFilter(request.GET, queryset=incidents, user=request.user)
    rows = list(filterset.qs[:LIST_PAGE_SIZE]) if filterset.is_valid() else []
    more = filterset.qs.count() - len(rows) if len(rows) == LIST_PAGE_SIZE else 0
    context = {
        "filter": filterset,
        "rows": rows,
        "more": more,
        "now": timezone.now(),
        "can_declare": visible_systems(request.user, Action.LEAD_INCIDENT).exists(),
    }
    status = 200 if filterset.is_valid() else 400
    return render(request, "incidents/incident_list.html", context, status=status)


@require_http_methods(["GET", "POST"])
def declare(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Choosing the system offers its environments: htmx swaps them in; without JS the
    "Show its environments" button posts the form back (nothing declared) to the same end."""
    systems = visible_systems(request.user, Action.LEAD_INCIDENT).order_by("name")
    if not systems.exists():
        raise PermissionDenied("You are not an on-call lead of any AI system.")
    asked = request.POST if request.method == "POST" else request.GET
    system = chosen_system(systems, asked.get("system"))
    if request.method == "GET" and request.htmx:
        form = DeclareForm(systems=systems, system=system)
        return render(request, "incidents/_declare_environment.html", {"form": form})
    choosing = "choose_system" in request.POST
    if request.method == "POST" and choosing:
        # The rest of what was typed stays; only the environments change with the system.
        kept = {name: request.POST.get(name) for name in ("title", "severity", "category",
                                                          "source", "summary")}  # fmt: skip
        initial = {name: value for name, value in kept.items() if value is not None}
        form = DeclareForm(systems=systems, system=system, initial=initial)
    else:
        form = DeclareForm(request.POST or None, systems=systems, system=system)
    if request.method == "POST" and not choosing and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.declare_incident(actor=request.user, **data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"INC-{incident.pk} declared. You are its commander.")
            return redirect(incident)
    status = 400 if form.errors else 200
    return render(request, "incidents/declare.html", {"form": form}, status=status)


# --- the war room ------------------------------------------------------------------------


def room_version(incident_pk: int, request: AuthenticatedHttpRequest) -> str:
    """What the war room shows changes with the system's audit chain and with the clock."""
    system_id = owning_system(Incident, incident_pk)
    minute = int(time.time() // CLOCK_SECONDS)
    return f"{system_version(system_id, request.user)}:{minute}"


def _token(version: str, request: AuthenticatedHttpRequest) -> str:
    # Signed, and for this viewer: only a page they were given (so one whose render checked
    # their access) can ask "anything new?" and get a bare 204. A change of their roles is a
    # change of the version, so the token does not outlive their access.
    return salted_hmac("incidents.live", f"{version}:{request.user.pk}").hexdigest()[:24]


@require_GET
def war_room(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    version = room_version(pk, request)

    def render_page() -> HttpResponse:
        incident = queries.incident_detail(pk, request.user)
        return render(request, "incidents/war_room.html", room_context(request, incident, version))

    return cached_page(request, version, render_page)


@require_GET
def live(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The poll: 204 while nothing changed, else the changed panels and the new entries.
    Access first, then the parameters: someone who may not see the incident gets 404
    whatever they send, as for an incident that does not exist."""
    version = room_version(pk, request)
    if constant_time_compare(request.GET.get("v", ""), _token(version, request)):
        return HttpResponse(status=204)
    incident = queries.incident_detail(pk, request.user)
    after = _entry_id(request, "after")
    if after is None:
        return HttpResponseBadRequest("`after` must be a timeline entry id.")
    context = room_context(request, incident, version, after=after)
    return render(request, "incidents/_live.html", context)


@require_GET
def background_status(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The war room's banner, polled: why rollbacks would wait in the queue, or nothing.
    Open to anyone signed in: it names no system and no incident."""
    trouble = background_trouble()
    return render(request, "incidents/_background.html", {"trouble": trouble})


@require_GET
def earlier_entries(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The page of timeline entries before `before`, newest first (access first, as `live`)."""
    incident = queries.incident_detail(pk, request.user)
    before = _entry_id(request, "before")
    if before is None:
        return HttpResponseBadRequest("`before` must be a timeline entry id.")
    entries = list(_entries(incident).filter(id__lt=before).order_by("-id")[: TIMELINE_PAGE + 1])
    context = {
        "incident": incident,
        "entries": entries[:TIMELINE_PAGE],
        "has_earlier": len(entries) > TIMELINE_PAGE,
        "actions": allowed_actions(request.user, incident.system),
    }
    return render(request, "incidents/_timeline_page.html", context)


def _entry_id(request: AuthenticatedHttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _entries(incident: Incident) -> Any:
    return TimelineEntry.objects.filter(incident=incident).select_related("pin", "actor")


def room_context(
    request: AuthenticatedHttpRequest, incident: Incident, version: str, after: int | None = None
) -> dict[str, Any]:
    """Everything the war room shows, in a fixed number of queries."""
    user = request.user
    actions = allowed_actions(user, incident.system)
    roles: list[IncidentRole] = incident.current_roles  # type: ignore[attr-defined]
    my_roles = {r.role for r in roles if r.user_id == user.pk}
    can_lead = Action.LEAD_INCIDENT in actions
    can_respond = Action.RESPOND_INCIDENT in actions
    if after is None:
        page = list(_entries(incident).order_by("-id")[: TIMELINE_PAGE + 1])
        entries, has_earlier = page[:TIMELINE_PAGE], len(page) > TIMELINE_PAGE
    else:  # the poll: what the page has not seen, newest first
        entries = list(_entries(incident).filter(id__gt=after).order_by("-id")[:TIMELINE_PAGE])
        has_earlier = False
    latest_id = entries[0].pk if entries else (after or 0)
    now = timezone.now()
    clock = reporting_clock(incident)
    # What is live in the environment now: one read for the release panel and the button.
    live_now = live_release(incident.environment) if incident.environment else None
    return {
        "incident": incident,
        "actions": actions,
        "can_lead": can_lead,
        "can_respond": can_respond,
        "can_post_status": can_lead or bool(my_roles & LEAD_ROLES),
        "my_roles": my_roles,
        "roles": _role_board(roles),
        "entries": entries,
        "has_earlier": has_earlier,
        "latest_id": latest_id,
        "pinned": list(_entries(incident).filter(pin__isnull=False).order_by("id")),
        "containments": list(incident.containments.all()),
        "alerts": list(
            incident.alerts.select_related("environment").order_by("-received_at", "-id")[:8]
        ),
        "stages": _stage_track(incident),
        "next_stage": _next_stage(incident),
        "skip_to": _skip_targets(incident),
        "reopen_to": _reopen_targets(incident),
        "releases": _release_sides(incident, live_now),
        "freeze": _change_freeze(incident, can_lead),
        **_rollback_panel(incident, actions, live_now),
        "clock": clock,
        "clock_state": clock.state(now, first_report_at(incident)) if clock else None,
        "now": now,
        "token": _token(version, request),
        "poll_seconds": POLL_SECONDS,
        "people": list(people_of(incident.system)) if can_lead else [],
        "role_kinds": IncidentRoleKind.choices,
        "severities": Severity.choices,
        "containment_kinds": ContainmentKind.choices,
        "art73": rules(),
        "application_dates": application_dates(),
        "member_states": member_state_choices(),
        "harm_labels": [harm_label(key) for key in incident.harm_categories],
        "reporting_notices": reporting_notices(incident),
        "organisation_zone": settings.ORGANISATION_TIME_ZONE,
        "errors": [],
    }


def _role_board(roles: list[IncidentRole]) -> list[dict[str, Any]]:
    """Each role with its current holders (responders may be many), in a fixed order."""
    return [
        {"kind": kind, "label": label, "holders": [r for r in roles if r.role == kind]}
        for kind, label in IncidentRoleKind.choices
    ]


def _stage_track(incident: Incident) -> list[dict[str, Any]]:
    stamps: dict[str, datetime | None] = {
        Stage.DETECTED: incident.detected_at,
        Stage.CONTAINMENT: incident.contained_at,
        Stage.ROLLBACK: incident.rolled_back_at,
        Stage.RECOVERY: incident.recovered_at,
        Stage.REVIEW: incident.reviewed_at,
        Stage.CLOSED: incident.closed_at,
    }
    current = ORDER.index(incident.stage)
    track = []
    for index, (value, label) in enumerate(Stage.choices):
        # Containment is the one part done outside its stage (an action marked done, a
        # rollback): once `contained_at` is set it is done, wherever the incident stands.
        contained = value == Stage.CONTAINMENT and incident.contained_at is not None
        if index == current:
            state = "current"
        elif value in incident.skipped_stages and not contained:
            state = "skipped"
        elif index < current or contained:
            state = "done"
        else:
            state = "todo"
        track.append({"value": value, "label": label, "state": state, "at": stamps[value]})
    return track


def _next_stage(incident: Incident) -> dict[str, str] | None:
    """The one big forward button; closing goes through the post-mortem instead."""
    index = ORDER.index(incident.stage)
    if incident.stage in (Stage.REVIEW, Stage.CLOSED):
        return None
    following = Stage(ORDER[index + 1])
    return {"value": following.value, "label": following.label}


def _skip_targets(incident: Incident) -> list[tuple[str, str]]:
    index = ORDER.index(incident.stage)
    later = ORDER[index + 2 : ORDER.index(Stage.REVIEW) + 1]
    return [(value, Stage(value).label) for value in later]


def _reopen_targets(incident: Incident) -> list[tuple[str, str]]:
    if incident.stage not in REOPENABLE_FROM:
        return []
    earlier = ORDER[1 : ORDER.index(incident.stage)]
    return [(value, Stage(value).label) for value in earlier]


# A release a lead may name as the fix: one on its way (the gate still asks for its approvals).
HOTFIX_CANDIDATES = (
    ReleaseStatus.DRAFT,
    ReleaseStatus.IN_REVIEW,
    ReleaseStatus.CHANGES_REQUESTED,
    ReleaseStatus.APPROVED,
    ReleaseStatus.ROLLING_OUT,
)


def _change_freeze(incident: Incident, can_lead: bool) -> dict[str, Any] | None:
    """The change freeze this incident holds, its hotfixes and (for its leads) the releases
    that could be named one; None when it freezes nothing."""
    if incident.severity not in FREEZING_SEVERITIES or incident.stage not in FREEZING_STAGES:
        return None
    hotfixes = list(incident.hotfixes.select_related("release", "cited_by"))
    cited = {h.release_id for h in hotfixes}
    candidates = (
        [
            release
            for release in Release.objects.filter(
                system_id=incident.system_id, status__in=HOTFIX_CANDIDATES
            ).order_by("-created_at", "-id")[:20]
            if release.pk not in cited
        ]
        if can_lead
        else []
    )
    return {"hotfixes": hotfixes, "candidates": candidates}


def _release_sides(incident: Incident, now_live: Release | None) -> dict[str, Any]:
    """The release live at declaration, live now, and the rollback target, component by
    component (the rollback engine flips the first to the last)."""
    at_start = incident.release_snapshot or None
    plan = incident.rollback_plan
    target = None
    if plan is not None and plan.target_release_id is not None:
        target_release = (
            Release.objects.prefetch_related("components").filter(pk=plan.target_release_id).first()
        )
        target = release_content(target_release) if target_release else None
    start_stack = (at_start or {}).get("stack", {})
    target_stack = (target or {}).get("stack", {})
    rows = [
        {
            "kind": kind.label,
            "live": start_stack.get(kind.value, {}).get("version"),
            "target": target_stack.get(kind.value, {}).get("version"),
        }
        for kind in ComponentKind
    ]
    return {
        "at_start": at_start,
        "now": now_live,
        "changed_since": now_live is not None
        and at_start is not None
        and now_live.pk != at_start.get("id"),
        "target": target,
        "plan": incident.plan_snapshot or None,
        "plan_owners": names_of((incident.plan_snapshot or {}).get("owners", [])),
        "plan_mode": RollbackMode(incident.plan_snapshot["mode"]).label
        if incident.plan_snapshot
        else "",
        "rows": rows,
    }


def _rollback_panel(
    incident: Incident, actions: frozenset[Action], live: Release | None
) -> dict[str, Any]:
    """The ROLL BACK NOW button: what it would do, who may press it, and the latest run.

    After a verified rollback the button is not armed again: the panel says what is live,
    and going past it is its own action ("Roll back further"). What either confirmation
    names comes from one read, `choice`, and goes back with the press, which the service
    refuses if it no longer holds."""
    link = (
        IncidentRollback.objects.filter(incident=incident)
        .select_related("request__from_release", "request__to_release", "request__requested_by")
        .first()
    )
    rollback = link.request if link else None
    choice = None
    if incident.environment is not None and incident.is_open and live is not None:
        choice = rollbacks.rollback_choice(incident.environment)
    plan = incident.rollback_plan
    can_press = Action.REQUEST_ROLLBACK in actions
    # An ungoverned change is ended by ROLL BACK NOW or, if what the backend runs passed
    # its approvals, by adopting it (release managers, with a reason).
    drift = (
        open_drift(incident.environment)
        if choice is not None and choice.restoring and incident.environment is not None
        else None
    )
    return {
        "drift": drift,
        "can_adopt": Action.APPROVE_RELEASE in actions,
        "adopters": []
        if drift is None or Action.APPROVE_RELEASE in actions
        else list(people_of(incident.system, Action.APPROVE_RELEASE)),
        "rollback": rollback,
        "rollback_live": live,
        "rollback_choice": choice,
        # The release a verified rollback put back is the one the incident's plan named.
        "rollback_live_is_plan_target": choice is not None
        and choice.live is not None
        and plan is not None
        and plan.target_release_id == choice.live.pk,
        "can_roll_back": can_press,
        "rollback_pressers": []
        if can_press
        else list(people_of(incident.system, Action.REQUEST_ROLLBACK)),
    }

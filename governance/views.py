"""htmx pages for the inventory, roles, API tokens and the audit trail. Thin: services decide."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from governance import dashboard, queries, services
from governance.audit.export import csv_lines
from governance.audit.links import object_links
from governance.filters import AuditEventFilter, SystemFilter
from governance.forms import ApiTokenForm, RoleGrantForm, SystemForm
from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem, ApiToken, ApiTokenStatus
from governance.navigation import system_links
from governance.people import find_people
from governance.permissions import (
    allowed_actions,
    get_system_or_404,
    may_choose_people,
    visible_systems,
)
from governance.roles import ROLE_DESCRIPTIONS, Action, Role, roles_that_may

AUDIT_PAGE_SIZE = 50


def apply_service_errors(form, error: ValidationError) -> None:  # type: ignore[no-untyped-def]
    """Show a service's ValidationError on the form: by field where it names one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What needs attention, across the systems the user sees; htmx refreshes the body."""
    contribution = dashboard.home_for(request.user)
    context = {
        "tiles": contribution.tiles,
        "panels": contribution.panels,
        "system_count": visible_systems(request.user).count(),
        "can_declare": visible_systems(request.user, Action.LEAD_INCIDENT).exists(),
    }
    template = "governance/_home.html" if request.htmx else "governance/home.html"
    return render(request, template, context)


@require_GET
def system_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filterset = SystemFilter(request.GET, queryset=queries.systems_for(request.user))
    systems = list(filterset.qs) if filterset.is_valid() else []
    context = {
        "filter": filterset,
        "systems": systems,
        "roles_held": queries.roles_held(request.user, systems),
        "can_create": request.user.has_perm("governance.add_aisystem"),
    }
    template = "governance/_system_table.html" if request.htmx else "governance/system_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def system_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not request.user.has_perm("governance.add_aisystem"):
        raise PermissionDenied("You may not register AI systems.")
    form = SystemForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            system = services.create_system(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{system.name} is registered.")
            return redirect(system)
    status = 400 if form.errors else 200
    return render(request, "governance/system_form.html", {"form": form}, status=status)


@require_GET
def system_detail(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug)
    actions = allowed_actions(request.user, system)
    recent = (
        queries.audit_events_for(request.user).filter(system=system)[:8]
        if Action.VIEW_AUDIT in actions
        else []
    )
    context = {
        "system": system,
        "actions": actions,
        **_grants_context(system),
        "grant_form": RoleGrantForm(),
        "recent_events": recent,
        "system_links": system_links(system, actions),
        # Said on the page, from the same answer the buttons above were drawn from.
        "may_do": [action.label for action in Action if action in actions],
        "may_not": [
            (action.label, [role.label for role in roles_that_may(action)])
            for action in Action
            if action not in actions
        ],
        "role_descriptions": [(role.label, ROLE_DESCRIPTIONS[role]) for role in Role],
    }
    return render(request, "governance/system_detail.html", context)


@require_http_methods(["GET", "POST"])
def system_edit(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, Action.CHANGE)
    form = SystemForm.for_system(system, actor=request.user, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            system = services.update_system(actor=request.user, system=system, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Changes saved.")
            return redirect(system)
    status = 400 if form.errors else 200
    return render(
        request, "governance/system_form.html", {"form": form, "system": system}, status=status
    )


def _grants_context(system: AISystem) -> dict:
    grants = list(queries.role_grants(system))
    return {"grants": grants, "owner_count": sum(g.role == Role.OWNER for g in grants)}


def _roles_panel(
    request: AuthenticatedHttpRequest,
    system: AISystem,
    form: RoleGrantForm,
    status: int = 200,
    errors: list[str] | None = None,
) -> HttpResponse:
    context = {
        "system": system,
        "actions": allowed_actions(request.user, system),
        **_grants_context(system),
        "grant_form": form,
        "panel_errors": errors or [],
    }
    return render(request, "governance/_roles_panel.html", context, status=status)


@require_POST
def role_grant(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, Action.MANAGE_ROLES)
    form = RoleGrantForm(request.POST)
    if form.is_valid():
        try:
            services.grant_role(actor=request.user, system=system, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            if not request.htmx:
                return redirect(system)
            return _roles_panel(request, system, RoleGrantForm())
    if not request.htmx:
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(system)
    return _roles_panel(request, system, form, status=400)


@require_POST
def role_revoke(request: AuthenticatedHttpRequest, slug: str, grant_id: int) -> HttpResponse:
    system = get_system_or_404(request.user, slug, Action.MANAGE_ROLES)
    grant = get_object_or_404(system.role_grants, pk=grant_id)
    form = RoleGrantForm()
    try:
        services.revoke_role(actor=request.user, grant=grant)
    except ValidationError as error:
        if not request.htmx:
            messages.error(request, " ".join(error.messages))
            return redirect(system)
        return _roles_panel(request, system, form, status=400, errors=error.messages)
    if not request.htmx:
        return redirect(system)
    if grant.user_id == request.user.pk and grant.role == Role.OWNER:
        # The actor gave up ownership: the panel they were looking at may no longer be theirs.
        return HttpResponseClientRedirect(system.get_absolute_url())
    return _roles_panel(request, system, form)


# The inputs that ask the people search: htmx sends the typed text under the input's name.
PERSON_INPUTS = ("q", "user", "add_owner")


@require_GET
def people_search(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A few people matching what was typed, as <option>s for a person input's datalist:
    those sharing a system with the user, and anyone by exact username or email
    (governance.people.find_people). Only for those who may register a system or manage
    roles; fewer than SEARCH_MIN_CHARS characters find nobody."""
    if not may_choose_people(request.user):
        raise PermissionDenied("Only those who register systems or manage roles pick people.")
    term = next((request.GET[name] for name in PERSON_INPUTS if request.GET.get(name)), "")
    people = find_people(request.user, term[:254])
    response = render(request, "governance/_people_options.html", {"people": people})
    add_never_cache_headers(response)
    return response


# The audit trail's sortable columns: (the sort key the filter takes, the header).
AUDIT_COLUMNS = [("when", "When"), ("system", "System"), ("actor", "Actor"),
                 ("action", "Action"), ("object", "Object and change")]  # fmt: skip


def _audit_filter(request: AuthenticatedHttpRequest) -> tuple[AuditEventFilter, QuerySet, int]:
    """The events the user may read, as the query filters and sorts them (none if invalid)."""
    events = queries.audit_events_for(request.user)
    filterset = AuditEventFilter(request.GET, queryset=events)
    if filterset.is_valid():
        return filterset, filterset.qs, 200
    return filterset, events.none(), 400


def _audit_columns(request: AuthenticatedHttpRequest) -> list[dict[str, str]]:
    """Each header's link: sorting by it, the other way round if it sorts the list now."""
    current = request.GET.get("sort") or "-when"
    columns = []
    for key, label in AUDIT_COLUMNS:
        query = request.GET.copy()
        query.pop("page", None)
        direction = ""
        if current.lstrip("-") == key:
            direction = "descending" if current.startswith("-") else "ascending"
        query["sort"] = key if direction == "descending" else f"-{key}"
        if not direction and key != "when":
            query["sort"] = key  # a new column sorts A to Z first
        columns.append(
            {"label": label, "query": query.urlencode(), "direction": direction, "key": key}
        )
    return columns


@require_GET
def audit_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filterset, events, status = _audit_filter(request)
    readable = queries.systems_for(request.user).filter(
        pk__in=queries.visible_audit_system_ids(request.user)
    )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "links": object_links(page.object_list),
        "columns": _audit_columns(request),
        "query": query.urlencode(),
        "sort": request.GET.get("sort", ""),
        "systems": readable,
        # Nothing to filter when no role the user holds reads a trail: the page says so.
        "may_read": readable.exists(),
        "readers": [role.label for role in roles_that_may(Action.VIEW_AUDIT)],
    }
    template = "governance/_audit_table.html" if request.htmx else "governance/audit_list.html"
    return render(request, template, context, status=status)


@require_GET
def audit_export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered events as CSV, for whoever may read a trail (only the systems they may)."""
    if not visible_systems(request.user, Action.VIEW_AUDIT).exists():
        readers = ", ".join(role.label for role in roles_that_may(Action.VIEW_AUDIT))
        raise PermissionDenied(f"You may not read any audit trail: that takes one of {readers}.")
    filterset, events, status = _audit_filter(request)
    if status != 200:
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        csv_lines(events.iterator(chunk_size=500)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


# --- API tokens: a person's own, and those of a system for its owners ----------------------
#
# The secret exists in exactly one response: the one answering the creation. It is not put
# in a flash message (kept in the session), a cache or a log, that response is marked
# no-store, and only its sha256 digest is kept (governance.tokens).


def _api_tokens(
    request: AuthenticatedHttpRequest,
    *,
    system: AISystem | None = None,
    status: int = 200,
    form: ApiTokenForm | None = None,
    **extra: object,
) -> HttpResponse:
    """A person's tokens (no system), or every token on a system; the panel alone for htmx."""
    tokens = list(
        queries.api_tokens_of(request.user) if system is None else queries.api_tokens_on(system)
    )
    now = timezone.now()
    context = {
        "system": system,
        "tokens": tokens,
        "active_count": sum(token.status_at(now) == ApiTokenStatus.ACTIVE for token in tokens),
        "form": form or ApiTokenForm(user=request.user),
        "api_url": request.build_absolute_uri("/api/systems/"),
        "may_read_audit": visible_systems(request.user, Action.VIEW_AUDIT).exists(),
        "errors": [],
        **extra,
    }
    page = "governance/api_tokens.html" if system is None else "governance/system_api_tokens.html"
    template = "governance/_api_tokens.html" if request.htmx else page
    response = render(request, template, context, status=status)
    if "secret" in extra:
        add_never_cache_headers(response)
    return response


@require_GET
def api_token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _api_tokens(request)


@require_POST
def api_token_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            token, secret = services.create_api_token(
                actor=request.user,
                system=form.cleaned_data["system"],
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            # Rendered here, not redirected to: a redirect would have to carry the secret.
            return _api_tokens(request, status=201, created=token, secret=secret)
    return _api_tokens(request, status=400, form=form)


@require_http_methods(["GET", "POST"])
def api_token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes. Only one's own tokens are found here."""
    token = get_object_or_404(queries.api_tokens_of(request.user), pk=token_id)
    return _revoke_api_token(request, token)


@require_GET
def system_api_token_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Every token scoped to the system, for those who decide who holds its roles."""
    system = get_system_or_404(request.user, slug, Action.MANAGE_ROLES)
    return _api_tokens(request, system=system)


@require_http_methods(["GET", "POST"])
def system_api_token_revoke(
    request: AuthenticatedHttpRequest, slug: str, token_id: int
) -> HttpResponse:
    system = get_system_or_404(request.user, slug, Action.MANAGE_ROLES)
    token = get_object_or_404(queries.api_tokens_on(system), pk=token_id)
    return _revoke_api_token(request, token, system=system)


def _revoke_api_token(
    request: AuthenticatedHttpRequest, token: ApiToken, *, system: AISystem | None = None
) -> HttpResponse:
    if request.method == "GET":
        return _api_tokens(request, system=system, confirming=token)
    try:
        services.revoke_api_token(actor=request.user, token=token)
    except ValidationError as error:
        return _api_tokens(request, system=system, status=400, errors=error.messages)
    notice = f"{token.name} ({token.prefix}…) is revoked: requests made with it get 401."
    if request.htmx:
        return _api_tokens(request, system=system, notice=notice)
    messages.success(request, notice)
    if system is None:
        return redirect("governance:api-tokens")
    return redirect("governance:system-api-tokens", slug=system.slug)

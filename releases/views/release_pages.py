"""The release pages: the list, registering and editing a draft, the release page and the
approvals queue."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from governance.http import AuthenticatedHttpRequest
from governance.pagecache import cached_page, owning_system, system_version
from governance.permissions import (
    require,
    visible_systems,
)
from governance.roles import Action
from governance.views import apply_service_errors
from releases import queries, services
from releases.filters import ReleaseListFilter
from releases.forms import (
    ReleaseForm,
)
from releases.gate_policy import summarise
from releases.intake.prefill import NoBase, base_release, starting_points
from releases.models import Release
from releases.views.release_page import page_context

LIST_PAGE_SIZE = 50


@require_GET
def release_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    releases = queries.release_rows(request.user)
    filterset = ReleaseListFilter(request.GET, queryset=releases, user=request.user)
    page = list(filterset.qs[:LIST_PAGE_SIZE]) if filterset.is_valid() else []
    policies = queries.policies_for({r.system_id for r in page})
    context = {
        "filter": filterset,
        "rows": [(r, summarise(r, policies[r.system_id])) for r in page],
        "can_register": visible_systems(request.user, Action.REGISTER_RELEASE).exists(),
    }
    template = "releases/_release_table.html" if request.htmx else "releases/release_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def release_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    systems = visible_systems(request.user, Action.REGISTER_RELEASE).order_by("name")
    if not systems.exists():
        raise PermissionDenied("You are not a model owner of any AI system.")
    start = _start_from(request, systems)
    initial = (
        ReleaseForm.initial_from_base(start)
        if start is not None
        else {"system": systems.filter(slug=request.GET.get("system", "")).first()}
    )
    form = ReleaseForm(request.POST or None, systems=systems, initial=initial)
    if _asks_for_suggestions(request):
        return _categories(request, form, _suggestion_base(form, start))
    if request.method == "POST" and form.is_valid():
        try:
            release = services.create_release(
                actor=request.user,
                system=form.cleaned_data["system"],
                version=form.cleaned_data["version"],
                based_on=form.cleaned_data["based_on"],
                **form.service_arguments(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Release {release.version} is registered as a draft.")
            return redirect(release)
    status = 400 if form.errors else 200
    live, earlier = starting_points(systems)
    base = _suggestion_base(form, start)
    context = {
        "form": form,
        "start": start,
        "live_points": live,
        "earlier_points": earlier,
        "suggestion_base": base,
        "suggested": form.suggested_categories(base),
    }
    return render(request, "releases/release_form.html", context, status=status)


def _start_from(request: AuthenticatedHttpRequest, systems: QuerySet) -> Release | None:
    """The release the new one starts from: ?from= on the page, the hidden field once posted;
    only a release of a system the user registers releases for."""
    wanted = request.POST.get("based_on") if request.method == "POST" else request.GET.get("from")
    if not wanted or not str(wanted).isdigit():
        return None
    return (
        Release.objects.filter(pk=int(wanted), system__in=systems)
        .select_related("system")
        .prefetch_related("components")
        .first()
    )


def _suggestion_base(form: ReleaseForm, start: Release | None) -> Release | None:
    """What the typed stack is compared with to suggest categories: the release it started
    from, else what a new version replaces (releases.intake.prefill.base_release)."""
    if start is not None:
        return start
    system = form.cleaned_data.get("system") if hasattr(form, "cleaned_data") else None
    if system is None and form.is_bound and str(form.data.get("system", "")).isdigit():
        systems = form.fields["system"].queryset  # type: ignore[attr-defined]
        system = systems.filter(pk=int(form.data["system"])).first()
    if system is None:
        return None
    try:
        return base_release(system)[0]
    except NoBase:
        return None


def _asks_for_suggestions(request: AuthenticatedHttpRequest) -> bool:
    """htmx asks for the categories fieldset again as the stack is typed: nothing is saved."""
    return (
        request.method == "POST"
        and bool(request.htmx)
        and request.htmx.target == "change-categories"
    )


def _categories(
    request: AuthenticatedHttpRequest, form: ReleaseForm, base: Release | None
) -> HttpResponse:
    context = {"form": form, "suggestion_base": base, "suggested": form.suggested_categories(base)}
    return render(request, "releases/_change_categories.html", context)


@require_http_methods(["GET", "POST"])
def release_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    release = queries.release_detail(pk, request.user)
    require(request.user, Action.REGISTER_RELEASE, release.system)
    if release.is_frozen:
        messages.error(request, "This release is frozen since its submission; register a new one.")
        return redirect(release)
    data = request.POST or None
    form = ReleaseForm(
        data, systems=None, release=release, initial=ReleaseForm.initial_from(release)
    )
    base = _edit_base(release)
    if _asks_for_suggestions(request):
        return _categories(request, form, base)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_release(actor=request.user, release=release, **form.service_arguments())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Draft saved.")
            return redirect(release)
    status = 400 if form.errors else 200
    context = {
        "form": form,
        "release": release,
        "suggestion_base": base,
        "suggested": form.suggested_categories(base),
    }
    return render(request, "releases/release_form.html", context, status=status)


def _edit_base(release: Release) -> Release | None:
    """A draft's stack is compared with the release it started from, else with what it
    would replace."""
    if release.based_on_id is not None:
        return Release.objects.prefetch_related("components").get(pk=release.based_on_id)
    try:
        base = base_release(release.system)[0]
    except NoBase:
        return None
    return None if base.pk == release.pk else base


@require_GET
def release_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def render_page() -> HttpResponse:
        release = queries.release_detail(pk, request.user)
        context = page_context(request, release)
        if request.htmx and request.htmx.target == "release-diff":
            return render(request, "releases/_diff.html", context)
        return render(request, "releases/release_detail.html", context)

    version = system_version(owning_system(Release, pk), request.user)
    return cached_page(request, version, render_page)


@require_GET
def approval_queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    queue = queries.approval_queue(request.user)
    # Oldest first, one page: a longer queue is a process problem the count makes visible.
    waiting = list(queue.prefetch_related("gate_checks")[:LIST_PAGE_SIZE])
    policies = queries.policies_for({r.system_id for r in waiting})
    rows = [(r, summarise(r, policies[r.system_id])) for r in waiting]
    more = queue.count() - len(waiting)
    return render(request, "releases/approval_queue.html", {"rows": rows, "more": more})

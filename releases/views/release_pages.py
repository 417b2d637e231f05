"""The release pages: the list, registering and editing a draft, the release page and the
approvals queue."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
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
    initial = {"system": systems.filter(slug=request.GET.get("system", "")).first()}
    form = ReleaseForm(request.POST or None, systems=systems, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            release = services.create_release(
                actor=request.user,
                system=form.cleaned_data["system"],
                version=form.cleaned_data["version"],
                **form.service_arguments(),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Release {release.version} is registered as a draft.")
            return redirect(release)
    status = 400 if form.errors else 200
    return render(request, "releases/release_form.html", {"form": form}, status=status)


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
    if request.method == "POST" and form.is_valid():
        try:
            services.update_release(actor=request.user, release=release, **form.service_arguments())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Draft saved.")
            return redirect(release)
    status = 400 if form.errors else 200
    return render(
        request, "releases/release_form.html", {"form": form, "release": release}, status=status
    )


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

"""Action items across every incident the user can see: what the post-mortems promised."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from governance.http import AuthenticatedHttpRequest
from governance.permissions import restrict
from incidents.filters import ActionItemFilter, in_work_order, with_overdue
from incidents.models import ActionItem, ActionItemStatus

PAGE_SIZE = 50


def _visible_items(request: AuthenticatedHttpRequest) -> QuerySet[ActionItem]:
    items = ActionItem.objects.select_related("incident__system", "owner")
    return with_overdue(restrict(items, request.user, via="incident__system"))


@require_GET
def action_item_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Filterable, 50 a page; the tiles above count everything visible (one query)."""
    items = _visible_items(request)
    filterset = ActionItemFilter(request.GET, queryset=items, user=request.user)
    status = 200
    if filterset.is_valid():
        shown = filterset.qs
    else:
        shown, status = items.none(), 400
    page = Paginator(in_work_order(shown), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    not_done = ~Q(status=ActionItemStatus.DONE)
    tally = items.order_by().aggregate(
        open=Count("pk", filter=not_done),
        overdue=Count("pk", filter=Q(is_overdue=True)),
        mine=Count("pk", filter=not_done & Q(owner=request.user)),
        unowned=Count("pk", filter=not_done & Q(owner__isnull=True)),
    )
    context = {
        "filter": filterset,
        "page": page,
        "rest": page.paginator.count - page.end_index() if page.object_list else 0,
        "query": query.urlencode(),
        "tally": tally,
        "today": timezone.localdate(),
    }
    template = (
        "incidents/_action_item_table.html" if request.htmx else "incidents/action_items.html"
    )
    return render(request, template, context, status=status)

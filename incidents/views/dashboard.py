"""The incidents dashboard: response times per system and severity over a period, and a chart."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.permissions import visible_systems
from incidents.charts import weekly_chart, weekly_figures
from incidents.models import Severity
from incidents.response_times import (
    PERIOD_DAYS,
    IncidentMetrics,
    Period,
    incident_metrics,
    resolve_period,
)


class VisibleSystemField(forms.ModelChoiceField):
    """A system by slug, among those the user may see; anything else is one clear error."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        try:
            validate_slug(value)  # before the database sees it (a NUL byte would not get there)
        except ValidationError:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None
        return super().to_python(value)


class DashboardFilterForm(forms.Form):
    """The query string: `period` (30/90/365 days), or `from`/`to` dates; `system`, `severity`."""

    period = forms.TypedChoiceField(
        choices=[(days, f"Last {days} days") for days in PERIOD_DAYS],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": "Choose a period of 30, 90 or 365 days."},
    )
    system = VisibleSystemField(
        queryset=AISystem.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label="All systems",
        error_messages={"invalid_choice": "No such system among those you can see."},
    )
    severity = forms.ChoiceField(
        choices=[("", "All severities"), *Severity.choices],
        required=False,
        error_messages={"invalid_choice": "Choose a severity from sev1 to sev4."},
    )

    def __init__(self, *args: Any, systems: QuerySet[AISystem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = systems  # type: ignore[attr-defined]
        # "from" is a Python keyword: these two cannot be class attributes.
        bad_date = {"invalid": "Enter a date as YYYY-MM-DD."}
        self.fields["from"] = forms.DateField(required=False, label="From", error_messages=bad_date)
        self.fields["to"] = forms.DateField(required=False, label="To", error_messages=bad_date)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(name in self.errors for name in ("period", "from", "to")):
            # Raises errors keyed by the field at fault; Form.clean files them there.
            cleaned["resolved_period"] = resolve_period(
                days=cleaned.get("period"), start=cleaned.get("from"), end=cleaned.get("to")
            )
        return cleaned


def _with(query: QueryDict, **changes: Any) -> str:
    """The query string with some parameters set (None: removed)."""
    query = query.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = str(value)
    return query.urlencode()


def _subject(metrics: IncidentMetrics) -> str:
    system = metrics.system.name if metrics.system else "all systems"
    severity = Severity(metrics.severity).label if metrics.severity else "all severities"
    return f"{system} · {severity} · {metrics.period.label}"


def _tiles(metrics: IncidentMetrics) -> list[dict[str, Any]]:
    overall = metrics.overall
    tiles: list[dict[str, Any]] = [
        {
            "label": "Open now",
            "value": metrics.open_count,
            "sub": "whenever detected",
            "alert": metrics.open_count > 0,
        },
        {"label": "Incidents", "value": overall.count, "sub": metrics.period.label},
    ]
    for timing in overall.timings:
        if timing.count:
            sub, note = (
                f"median · p90 {timing.p90_text}",
                f"{timing.count} of {overall.count} got there",
            )
        else:
            sub, note = "median", "none got there yet" if overall.count else "no incidents"
        tiles.append(
            {
                "label": timing.measure.label.removeprefix("Time to ").capitalize(),
                "value": timing.median_text,
                "quiet": timing.median is None,
                "sub": sub,
                "note": note,
            }
        )
    return tiles


def _presets(request: AuthenticatedHttpRequest, period: Period | None) -> list[dict[str, Any]]:
    return [
        {
            "label": f"{days} days",
            "query": _with(request.GET, period=days, **{"from": None, "to": None}),
            "current": period is not None and period.days == days,
        }
        for days in PERIOD_DAYS
    ]


@require_GET
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    systems = visible_systems(request.user).order_by("name")
    form = DashboardFilterForm(request.GET, systems=systems)
    metrics = None
    if form.is_valid():
        metrics = incident_metrics(
            request.user,
            period=form.cleaned_data["resolved_period"],
            system=form.cleaned_data["system"],
            severity=form.cleaned_data["severity"] or None,
        )
    context = {
        "form": form,
        "systems": systems,
        "severities": Severity.choices,
        "metrics": metrics,
        "tiles": _tiles(metrics) if metrics else [],
        "chart": weekly_chart(metrics.weekly, subject=_subject(metrics)) if metrics else "",
        "chart_figures": weekly_figures(metrics.weekly) if metrics else [],
        "presets": _presets(request, metrics.period if metrics else None),
        "query": request.GET.urlencode(),
    }
    return render(request, "incidents/dashboard.html", context, status=200 if metrics else 400)

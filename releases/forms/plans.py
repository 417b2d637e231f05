"""The rollback plan written before release: where to, who, what triggers it."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model

from governance.limits import NOTE, QUERY
from governance.people import person_label
from releases.models import (
    Environment,
    Release,
    RollbackMode,
)

PROMQL_TRIGGERS_MAX = 5 * QUERY  # a few PromQL triggers, each at most QUERY characters


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name


class ReleaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.version} — {obj.title}"


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_label(obj)


class RollbackPlanForm(forms.Form):
    environment = EnvironmentChoiceField(queryset=Environment.objects.none(), empty_label=None)
    target_release = ReleaseChoiceField(
        queryset=Release.objects.none(),
        required=False,
        empty_label="The release live in that environment (last known-good)",
    )
    owners = PeopleChoiceField(
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="People holding the rollback-owner role on this system.",
    )
    mode = forms.ChoiceField(choices=RollbackMode.choices)
    cooldown_minutes = forms.IntegerField(min_value=0, max_value=7 * 24 * 60, initial=30)
    triggers = forms.CharField(
        required=False,
        max_length=NOTE,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="One per line: metric comparison threshold window, e.g. "
        "“p95_latency_ms > 300 5” (5 minutes).",
    )
    promql_triggers = forms.CharField(
        required=False,
        max_length=PROMQL_TRIGGERS_MAX,
        label="PromQL triggers",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="Asked of the environment's Prometheus every 15 s. One per line: "
        "[name:] query comparison threshold for minutes, e.g. “error_ratio: "
        "sum(rate(errors_total[5m])) / sum(rate(requests_total[5m])) > 0.05 for 5”.",
    )
    advance_on_analysis = forms.BooleanField(
        required=False,
        label="Advance a rollout stage whose analysis passes to the next stage",
    )

    COMPARISONS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "≥": "gte", "≤": "lte"}
    PROMQL_LINE = re.compile(
        r"^\s*(?:(?P<name>[A-Za-z_][\w:.-]{0,119})\s*:\s+)?(?P<query>.+?)\s+"
        r"(?P<comparison>>=|<=|>|<|≥|≤)\s+(?P<threshold>\S+)\s+for\s+(?P<window>\d{1,6})"
        r"\s*(?:m|min|minutes?)?\s*$"
    )

    def __init__(self, *args: Any, release: Release, owner_ids: set[int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["environment"]
        ).queryset = Environment.objects.filter(system=release.system_id)
        cast(
            forms.ModelChoiceField, self.fields["target_release"]
        ).queryset = Release.objects.filter(system=release.system_id).exclude(pk=release.pk)
        cast(
            forms.ModelChoiceField, self.fields["owners"]
        ).queryset = get_user_model().objects.filter(pk__in=owner_ids)

    def clean_triggers(self) -> list[dict[str, Any]]:
        triggers = []
        for number, line in enumerate(self.cleaned_data["triggers"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 4 or parts[1] not in self.COMPARISONS:
                raise forms.ValidationError(
                    f"Line {number}: write “metric > threshold minutes”, "
                    "e.g. “error_rate > 0.02 10”."
                )
            metric, comparison, threshold, window = parts
            triggers.append(
                {
                    "metric": metric,
                    "comparison": self.COMPARISONS[comparison],
                    "threshold": threshold,
                    "window_minutes": window,
                }
            )
        return triggers

    def clean_promql_triggers(self) -> list[dict[str, Any]]:
        triggers = []
        for number, line in enumerate(self.cleaned_data["promql_triggers"].splitlines(), start=1):
            if not line.strip():
                continue
            match = self.PROMQL_LINE.match(line)
            if match is None:
                raise forms.ValidationError(
                    f"Line {number}: write “name: query > threshold for minutes”, e.g. "
                    "“error_ratio: job:errors:ratio5m > 0.05 for 5”."
                )
            if len(match["query"]) > QUERY:
                raise forms.ValidationError(
                    f"Line {number}: the query is at most {QUERY} characters."
                )
            triggers.append(
                {
                    "metric": match["name"] or "",
                    "query": match["query"].strip(),
                    "comparison": self.COMPARISONS[match["comparison"]],
                    "threshold": match["threshold"],
                    "window_minutes": match["window"],
                }
            )
        return triggers

    def clean(self) -> dict[str, Any]:
        # The service takes one list of triggers: the alert-driven ones, then the PromQL ones.
        data = super().clean() or {}
        if "triggers" in data and "promql_triggers" in data:
            data["triggers"] = [*data["triggers"], *data.pop("promql_triggers")]
        return data

"""A promotion to a rollout stage, with the analysis it may carry."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from governance.limits import NAME, QUERY
from releases.analysis.condition import parse_condition
from releases.forms.plans import EnvironmentChoiceField
from releases.models import (
    Environment,
    Release,
    RolloutStage,
)


class PromotionForm(forms.Form):
    environment = EnvironmentChoiceField(queryset=Environment.objects.none(), empty_label=None)
    stage = forms.ChoiceField(choices=RolloutStage.choices)
    traffic_percent = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, initial=5, label="Traffic %"
    )
    # The stage's analysis (Argo Rollouts' AnalysisTemplate): optional, all or nothing.
    analysis_query = forms.CharField(
        required=False,
        max_length=QUERY,
        label="Analysis query (PromQL)",
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono"}),
        help_text="One number: a scalar, or one series, e.g. "
        "“sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))”.",
    )
    success_condition = forms.CharField(
        required=False,
        max_length=NAME,
        widget=forms.TextInput(attrs={"class": "mono", "placeholder": "result < 0.05"}),
        help_text="“result” compared with numbers; and / or.",
    )
    # Empty: the service's defaults (60 s, 5 measurements, no failure, no gap in the data).
    interval_seconds = forms.IntegerField(
        required=False, min_value=1, max_value=3600, initial=60, label="Every (s)"
    )
    count = forms.IntegerField(
        required=False, min_value=1, max_value=100, initial=5, label="Measurements"
    )
    failure_limit = forms.IntegerField(
        required=False, min_value=0, max_value=99, initial=0, label="Failures allowed"
    )
    inconclusive_limit = forms.IntegerField(
        required=False, min_value=0, max_value=99, initial=0, label="No-data allowed"
    )
    ANALYSIS_FIELDS = (
        "analysis_query", "success_condition", "interval_seconds", "count", "failure_limit",
        "inconclusive_limit",
    )  # fmt: skip

    def clean_success_condition(self) -> str:
        condition: str = self.cleaned_data["success_condition"].strip()
        if condition:
            try:
                parse_condition(condition)
            except forms.ValidationError as error:
                raise forms.ValidationError(error.messages) from None
        return condition

    def clean(self) -> dict[str, Any]:
        # The service takes the analysis as one dict (None: the stage has none).
        data = super().clean() or {}
        values = {name: data.pop(name, None) for name in self.ANALYSIS_FIELDS}
        query = (values.pop("analysis_query") or "").strip()
        if query and not values["success_condition"] and "success_condition" not in self.errors:
            self.add_error(
                "success_condition", "Say when a measurement passes, e.g. result < 0.05."
            )
        data["analysis"] = {"query": query, **values} if query else None
        return data

    def __init__(self, *args: Any, release: Release, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["environment"]
        ).queryset = Environment.objects.filter(system=release.system_id)

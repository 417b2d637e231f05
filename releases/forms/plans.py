"""The rollback plan written before release: where to, who, what triggers it.

A trigger is a row of fields (metric, comparison, threshold, window, and for a PromQL
trigger its query), not a line of a mini-language: the page previews each row as the rule
it makes ("p95_latency_ms > 300 for 5 min")."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model

from governance.limits import QUERY
from governance.people import person_label
from releases.models import (
    Comparison,
    Environment,
    Release,
    RollbackMode,
)
from releases.services.plans import TRIGGER_COMPARISONS, rollback_targets

PROMQL_TRIGGERS_MAX = 5 * QUERY  # a few PromQL triggers, each at most QUERY characters
THRESHOLD_DIGITS = "At most 14 digits before the decimal point and 6 after it."
TRIGGER_ROWS_EXTRA = 2  # empty rows under the plan's triggers, for new ones


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name


class ReleaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.version} — {obj.title}"


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_label(obj)


class TriggerKind:
    """What a trigger watches: a metric alerts report, or a PromQL query Failsafe asks."""

    ALERT = "alert"
    PROMQL = "promql"


class TriggerRow(forms.Form):
    """One trigger: an alert's metric (or a PromQL query) compared with a threshold for a
    window. Left empty, the row is no trigger."""

    kind = forms.ChoiceField(
        choices=[(TriggerKind.ALERT, "Alert metric"), (TriggerKind.PROMQL, "PromQL query")],
        initial=TriggerKind.ALERT,
    )
    metric = forms.CharField(
        required=False,
        max_length=120,
        widget=forms.TextInput(attrs={"class": "mono", "placeholder": "p95_latency_ms"}),
        help_text="The metric an alert reports; for PromQL, a name for the query (optional).",
    )
    query = forms.CharField(
        required=False,
        max_length=QUERY,
        label="PromQL query",
        widget=forms.TextInput(
            attrs={"class": "mono", "placeholder": "sum(rate(errors_total[5m])) / sum(rate(…))"}
        ),
    )
    comparison = forms.ChoiceField(
        choices=[(c.value, c.label) for c in TRIGGER_COMPARISONS], initial=Comparison.GT
    )
    # Text, not a number input: the threshold is kept as typed.
    threshold = forms.DecimalField(
        required=False,
        max_digits=20,
        decimal_places=6,
        widget=forms.TextInput(attrs={"class": "mono", "inputmode": "decimal"}),
        error_messages=dict.fromkeys(
            ("max_digits", "max_decimal_places", "max_whole_digits"), THRESHOLD_DIGITS
        ),
    )
    window_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=24 * 60, label="For (minutes)", initial=5
    )

    def is_filled(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("metric") or data.get("query") or data.get("threshold") is not None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.is_filled():
            return data
        promql = data.get("kind") == TriggerKind.PROMQL
        if promql and not data.get("query", "").strip():
            self.add_error("query", "Give the PromQL query.")
        if not promql and not data.get("metric", "").strip():
            self.add_error("metric", "Name the metric.")
        if data.get("threshold") is None and "threshold" not in self.errors:
            self.add_error("threshold", "Give the threshold.")
        if data.get("window_minutes") is None and "window_minutes" not in self.errors:
            self.add_error("window_minutes", "Give the window in minutes.")
        return data

    def preview(self) -> str:
        """The rule the row makes, as the plan shows it: "p95_latency_ms > 300 for 5 min"
        (static/js/release-flow.js writes the same as the row is typed)."""
        value = {name: str(self[name].value() or "").strip() for name in self.fields}
        subject = value["metric"]
        if value["kind"] == TriggerKind.PROMQL:
            subject = f"{subject}: {value['query']}" if subject else value["query"]
        if not subject:
            return ""
        comparison = dict(self.fields["comparison"].choices).get(value["comparison"], "?")  # type: ignore[attr-defined]
        threshold = value["threshold"] or "…"
        return f"{subject} {comparison} {threshold} for {value['window_minutes'] or '…'} min"

    def trigger(self) -> dict[str, Any]:
        """The row as the service takes a trigger (the API's shape)."""
        data = self.cleaned_data
        promql = data["kind"] == TriggerKind.PROMQL
        return {
            "metric": data["metric"].strip(),
            "query": data["query"].strip() if promql else "",
            "comparison": data["comparison"],
            "threshold": data["threshold"],
            "window_minutes": data["window_minutes"],
        }


TriggerFormSet = forms.formset_factory(TriggerRow, extra=TRIGGER_ROWS_EXTRA, max_num=20)


def trigger_initial(trigger: Any) -> dict[str, Any]:
    """A saved trigger as its row shows it."""
    return {
        "kind": TriggerKind.PROMQL if trigger.is_promql else TriggerKind.ALERT,
        "metric": trigger.metric,
        "query": trigger.query,
        "comparison": trigger.comparison,
        # As typed: 300, not 300.000000 (the column's places) nor 3E+2 (normalize's).
        "threshold": format(trigger.threshold.normalize(), "f"),
        "window_minutes": trigger.window_minutes,
    }


class TargetChoiceField(forms.TypedChoiceField):
    """The releases the plan may roll back to, grouped by the environment they ran in."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, empty_value=None, required=False, **kwargs)


class RollbackPlanForm(forms.Form):
    environment = EnvironmentChoiceField(queryset=Environment.objects.none(), empty_label=None)
    target_release = TargetChoiceField(
        help_text="A release live in the plan's environment now or before, not rolled back."
    )
    owners = PeopleChoiceField(
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="People holding the rollback-owner role on this system.",
    )
    mode = forms.ChoiceField(choices=RollbackMode.choices)
    cooldown_minutes = forms.IntegerField(min_value=0, max_value=7 * 24 * 60, initial=30)
    advance_on_analysis = forms.BooleanField(
        required=False,
        label="Advance a rollout stage whose analysis passes to the next stage",
    )

    def __init__(
        self,
        data: Any = None,
        *,
        release: Release,
        owner_ids: set[int],
        triggers: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(data, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["environment"]
        ).queryset = Environment.objects.filter(system=release.system_id)
        self._targets: dict[int, Release] = {}
        choices: list[Any] = [("", "The release live in that environment (last known-good)")]
        for environment, targets in rollback_targets(release):
            group = []
            for target, live in targets:
                self._targets[target.pk] = target
                where = "live now" if live else "live before"
                group.append((target.pk, f"{target.version} — {target.title} ({where})"))
            choices.append((environment.name, group))
        cast(forms.TypedChoiceField, self.fields["target_release"]).choices = choices
        cast(
            forms.ModelChoiceField, self.fields["owners"]
        ).queryset = get_user_model().objects.filter(pk__in=owner_ids)
        self.trigger_rows = TriggerFormSet(data, initial=triggers, prefix="trigger")

    def clean_target_release(self) -> Release | None:
        pk = self.cleaned_data["target_release"]
        return self._targets[pk] if pk is not None else None

    def is_valid(self) -> bool:
        rows_valid = self.trigger_rows.is_valid()  # both validated: every error shows
        return super().is_valid() and rows_valid

    def clean(self) -> dict[str, Any]:
        # The service takes one list of triggers, as the API does.
        data = super().clean() or {}
        if self.trigger_rows.is_valid():
            data["triggers"] = [row.trigger() for row in self.trigger_rows if row.is_filled()]
        return data

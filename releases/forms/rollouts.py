"""A promotion to a rollout stage, with the analysis it may carry; a pause, resume or abort
of a rollout."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from governance.limits import NAME, NOTE, QUERY
from releases.analysis.condition import parse_condition
from releases.forms.plans import EnvironmentChoiceField
from releases.models import (
    Environment,
    Release,
    RolloutStage,
    RolloutStep,
    StepAction,
    StepStatus,
)


class PromotionForm(forms.Form):
    environment = EnvironmentChoiceField(queryset=Environment.objects.none(), empty_label=None)
    stage = forms.ChoiceField(choices=RolloutStage.choices, initial=RolloutStage.OFFLINE_VALIDATION)
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
    # Only a release manager's promotion past a stage or a soak uses it (the service says).
    skip_reason = forms.CharField(
        required=False,
        max_length=NOTE,
        label="Reason for skipping ahead",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Release managers only; recorded on the step and in the audit trail.",
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
        data.pop("promote_anyway", None)  # a confirmation for the form, not the service
        values = {name: data.pop(name, None) for name in self.ANALYSIS_FIELDS}
        query = (values.pop("analysis_query") or "").strip()
        if query and not values["success_condition"] and "success_condition" not in self.errors:
            self.add_error(
                "success_condition", "Say when a measurement passes, e.g. result < 0.05."
            )
        data["analysis"] = {"query": query, **values} if query else None
        return data

    # Set only when another release is mid-rollout in the chosen environment.
    promote_anyway = forms.BooleanField(
        required=False,
        label="Promote anyway: both releases will roll out there",
    )

    def __init__(
        self,
        *args: Any,
        release: Release,
        in_flight: dict[int, RolloutStep] | None = None,
        **kwargs: Any,
    ):
        self.in_flight = in_flight or {}
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["environment"]
        ).queryset = Environment.objects.filter(system=release.system_id)

    @staticmethod
    def initial_after(steps: list[RolloutStep]) -> dict[str, Any]:
        """Where the rollout goes next: the stage after the latest step, in its environment
        (the same stage again if that step failed). Nothing yet: the form's defaults."""
        if not steps:
            return {}
        latest = max(steps, key=lambda s: (s.requested_at, s.pk))
        if latest.action == StepAction.ABORT:  # that rollout is over: start again there
            return {"environment": latest.environment_id}
        promotions = [s for s in steps if s.action == StepAction.PROMOTE]
        if not promotions:
            return {}
        last = max(promotions, key=lambda s: (s.requested_at, s.pk))
        stages = list(RolloutStage)
        stage = RolloutStage(last.stage)
        if last.status != StepStatus.FAILED and stage != RolloutStage.GENERAL_RELEASE:
            stage = stages[stages.index(stage) + 1]
        # The share as typed (5, not 5.00): the next stage starts where the last one stood.
        traffic = (
            100
            if stage == RolloutStage.GENERAL_RELEASE
            else format(last.traffic_percent.normalize(), "f")
        )
        return {
            "environment": last.environment_id,
            "stage": stage.value,
            "traffic_percent": traffic,
        }

    def clean_promote_anyway(self) -> bool:
        environment = self.cleaned_data.get("environment")
        step = self.in_flight.get(environment.pk) if environment is not None else None
        if step is not None and not self.cleaned_data["promote_anyway"]:
            raise forms.ValidationError(
                f"{step.release.version} is mid-rollout in {step.environment.name} "
                f"({step.get_stage_display().lower()}, {step.traffic_percent.normalize():f} %): "
                "check “Promote anyway” if both should roll out there."
            )
        return bool(self.cleaned_data["promote_anyway"])


class RolloutControlForm(forms.Form):
    """Pause, resume or abort the release's rollout in one environment."""

    environment = EnvironmentChoiceField(queryset=Environment.objects.none())
    reason = forms.CharField(
        required=False, max_length=NOTE, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, release: Release, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["environment"]
        ).queryset = Environment.objects.filter(system=release.system_id)

"""The form that sends a test alert from the alert-tokens page."""

from __future__ import annotations

from django import forms

from governance.models import AISystem
from incidents.forms import environment_label
from incidents.services.alerts.test_alert import triggers_to_try
from releases.models import Environment, RollbackTrigger


class TriggerChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: RollbackTrigger) -> str:  # type: ignore[override]
        plan = obj.plan
        return (
            f"{obj.metric} {obj.get_comparison_display()} {obj.threshold.normalize():f} "
            f"for {obj.window_minutes} min ({plan.release.version}, "
            f"{plan.get_mode_display().lower()})"
        )


class EnvironmentChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Environment) -> str:  # type: ignore[override]
        return environment_label(obj)


class TestAlertForm(forms.Form):
    environment = EnvironmentChoice(
        queryset=Environment.objects.none(), label="Environment", empty_label=None
    )
    trigger = TriggerChoice(
        queryset=RollbackTrigger.objects.none(),
        required=False,
        label="Make it speak for",
        empty_label="No trigger: only open or join an incident",
        help_text="A trigger of the rollback plan in force: the alert reports its metric "
        "over the threshold for the whole window, so the plan acts as it would for real.",
    )

    def __init__(self, *args, system: AISystem, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        environments = Environment.objects.filter(system=system).order_by("-is_production", "name")
        self.fields["environment"].queryset = environments  # type: ignore[attr-defined]
        triggers = RollbackTrigger.objects.none()
        for environment in environments:
            triggers |= triggers_to_try(environment)
        self.fields["trigger"].queryset = triggers.order_by("id")  # type: ignore[attr-defined]

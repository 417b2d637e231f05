"""A system's environments, its gate policy, and ROLL BACK NOW from the environments page."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.limits import NOTE
from governance.validators import (
    validate_backend_config,
    validate_web_url,
)
from releases.models import (
    SOAK_MAX_MINUTES,
    BackendType,
    GateCriterion,
    RolloutStage,
)


class JSONObjectField(forms.JSONField):
    """A JSON object typed into a textarea; empty means {}."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value in (None, {}) else super().prepare_value(value)

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return {}
        parsed = super().to_python(value)
        if not isinstance(parsed, dict):
            raise forms.ValidationError('Write a JSON object, e.g. {"url": "https://…"}.')
        return parsed


class EnvironmentForm(forms.Form):
    PROMETHEUS_TOKEN_MAX = 4096

    name = forms.CharField(max_length=80)
    is_production = forms.BooleanField(required=False, label="Production")
    backend_type = forms.ChoiceField(choices=BackendType.choices, label="Deployment backend")
    backend_config = JSONObjectField(
        required=False,
        label="Backend settings",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text="JSON: URLs (http or https), model names, namespaces. Nothing secret here.",
        validators=[validate_backend_config],
    )
    backend_secrets = JSONObjectField(
        required=False,
        label="Backend secrets",
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono", "autocomplete": "off"}),
        help_text="JSON of strings, stored encrypted and never shown again. "
        "Leave empty to keep the stored ones.",
    )
    prometheus_url = forms.CharField(
        required=False,
        max_length=500,
        label="Prometheus URL",
        validators=[validate_web_url],
        widget=forms.URLInput(
            attrs={"class": "mono", "placeholder": "https://prometheus.example.com"}
        ),
        help_text="What the rollback plans' PromQL triggers and the stages' analyses ask.",
    )
    prometheus_token = forms.CharField(
        required=False,
        max_length=PROMETHEUS_TOKEN_MAX,
        label="Prometheus bearer token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "class": "mono"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one.",
    )


class GatePolicyForm(forms.Form):
    required_criteria = forms.MultipleChoiceField(
        choices=GateCriterion.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    approvals_required = forms.IntegerField(min_value=1, max_value=10)
    required_stages = forms.MultipleChoiceField(
        choices=RolloutStage.choices[:-1],  # general release has nothing after it
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Stages to pass before a later one",
    )
    # The minimum soak of each stage but the last, one field each (empty or 0: none).
    SOAK_FIELDS = {f"soak_{stage.value}": stage for stage in list(RolloutStage)[:-1]}
    soak_offline_validation = forms.IntegerField(
        required=False, min_value=0, max_value=SOAK_MAX_MINUTES, label="Offline validation"
    )
    soak_internal_testing = forms.IntegerField(
        required=False, min_value=0, max_value=SOAK_MAX_MINUTES, label="Internal testing"
    )
    soak_shadow = forms.IntegerField(
        required=False, min_value=0, max_value=SOAK_MAX_MINUTES, label="Shadow / guarded"
    )
    soak_segment_monitoring = forms.IntegerField(
        required=False, min_value=0, max_value=SOAK_MAX_MINUTES, label="Segment monitoring"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["soak_minutes"] = {
            stage.value: data.pop(name, None) or 0 for name, stage in self.SOAK_FIELDS.items()
        }
        return data

    @classmethod
    def initial_soak(cls, soak_minutes: dict[str, int]) -> dict[str, int | None]:
        return {name: soak_minutes.get(stage.value) for name, stage in cls.SOAK_FIELDS.items()}

    def soak_fields(self) -> list[Any]:
        return [self[name] for name in self.SOAK_FIELDS]


class EnvironmentRollbackForm(forms.Form):
    reason = forms.CharField(max_length=NOTE)
    drill = forms.BooleanField(required=False)
    # What the confirmation named: the service refuses the press if it no longer holds.
    further = forms.BooleanField(required=False)
    expected_from = forms.CharField(max_length=64, required=False)
    expected_target = forms.CharField(max_length=64, required=False)

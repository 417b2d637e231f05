"""The registry intake page: webhook secrets and followed models."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from governance.limits import NOTE
from governance.validators import (
    validate_web_url,
)


class WebhookSecretForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        label="Name",
        help_text="Which MLflow signs with it, e.g. “MLflow prod”.",
        widget=forms.TextInput(attrs={"placeholder": "MLflow prod", "autocomplete": "off"}),
    )


METRIC_RULES = NOTE  # the mapping, one metric a line


class ModelFollowForm(forms.Form):
    """A followed model; its metric mapping one line a metric: `auc benchmark gte 0.91`."""

    model_name = forms.CharField(
        max_length=200,
        label="Registered model",
        help_text="As MLflow spells it.",
        widget=forms.TextInput(attrs={"placeholder": "fraud-gbm", "autocomplete": "off"}),
    )
    tracking_uri = forms.CharField(
        max_length=500,
        label="Tracking server",
        help_text="Where the runs are read: https://mlflow.example.com",
        validators=[validate_web_url],
    )
    token = forms.CharField(
        max_length=4000,
        required=False,
        label="Bearer token",
        help_text="If MLflow asks for one. Stored encrypted, never shown; leave empty to keep.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    metric_criteria = forms.CharField(
        max_length=METRIC_RULES,
        required=False,
        label="Metrics as gate evidence",
        help_text="One a line: metric criterion comparison target, e.g. “auc benchmark gte "
        "0.91” or “p95_latency_ms latency lte 300”. Other metrics are kept as notes.",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["model_name"].required = False
            self.fields["model_name"].disabled = True

    def clean_metric_criteria(self) -> dict[str, dict[str, str]]:
        rules: dict[str, dict[str, str]] = {}
        for number, line in enumerate(self.cleaned_data["metric_criteria"].splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise ValidationError(
                    f"Line {number}: four words, metric criterion comparison target."
                )
            metric, criterion, comparison, target = parts
            rules[metric] = {"criterion": criterion, "comparison": comparison, "target": target}
        return rules


def metric_lines(criteria: dict[str, dict[str, str]]) -> str:
    """A follow's mapping as the form shows it."""
    return "\n".join(
        f"{metric} {rule['criterion']} {rule['comparison']} {rule['target']}"
        for metric, rule in sorted((criteria or {}).items())
    )

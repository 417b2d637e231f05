"""Forms of the release pages. They shape input; the services decide what is allowed."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from governance.limits import COMMENT, NAME, NOTE, PROSE, QUERY
from governance.models import AISystem
from governance.people import person_label
from governance.validators import (
    validate_artefact_uri,
    validate_backend_config,
    validate_evidence_uri,
    validate_web_url,
)
from releases.analysis.condition import parse_condition
from releases.models import (
    MODEL_CARD_FIELDS,
    BackendType,
    ChangeCategory,
    Comparison,
    ComponentKind,
    Decision,
    Environment,
    GateCriterion,
    Release,
    RollbackMode,
    RolloutStage,
)

PROMQL_TRIGGERS_MAX = 5 * QUERY  # a few PromQL triggers, each at most QUERY characters

CARD_HELP = {
    "what_changed": "Component by component: what is different from the release live today.",
    "why": "The problem this release solves, and the evidence it is real.",
    "data_used": "Training and evaluation data: sources, periods, sizes, labelling.",
    "channels_tested": "Channels, markets and segments this was tested on.",
    "expected_benefits": "What should improve, by how much, and how it will be measured.",
    "known_risks": "Who could be harmed or served worse, and what limits that.",
    "rollback_trigger": "The observation that makes you roll back, in plain words.",
}


class ReleaseForm(forms.Form):
    """The decision stack (six components) and the model card, as one form."""

    system = forms.ModelChoiceField(queryset=AISystem.objects.none(), empty_label=None)
    version = forms.CharField(max_length=64)
    title = forms.CharField(max_length=NAME)
    change_categories = forms.MultipleChoiceField(
        choices=ChangeCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any of these demands formal review.",
    )

    def __init__(self, *args: Any, systems: Any, release: Release | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["system"]).queryset = systems
        for name in MODEL_CARD_FIELDS:
            self.fields[name] = forms.CharField(
                label=name.replace("_", " ").capitalize(),
                help_text=CARD_HELP[name],
                max_length=PROSE,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        for kind in ComponentKind:
            self.fields[f"{kind.value}_version"] = forms.CharField(max_length=100, label="Version")
            self.fields[f"{kind.value}_uri"] = forms.CharField(
                max_length=500, label="URI", validators=[validate_artefact_uri]
            )
            self.fields[f"{kind.value}_digest"] = forms.CharField(
                max_length=71, label="sha256", widget=forms.TextInput(attrs={"class": "mono"})
            )
        if release is not None:  # editing a draft: system and version stay
            del self.fields["system"], self.fields["version"]

    @classmethod
    def initial_from(cls, release: Release) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "title": release.title,
            "change_categories": release.change_categories,
        }
        initial.update({name: getattr(release, name) for name in MODEL_CARD_FIELDS})
        for component in release.components.all():
            for part in ("version", "uri", "digest"):
                initial[f"{component.kind}_{part}"] = getattr(component, part)
        return initial

    def component_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (kind.label, [self[f"{kind.value}_{part}"] for part in ("version", "uri", "digest")])
            for kind in ComponentKind
        ]

    def card_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in MODEL_CARD_FIELDS]

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "card": {name: data[name] for name in MODEL_CARD_FIELDS},
            "components": [
                {
                    "kind": kind.value,
                    **{part: data[f"{kind.value}_{part}"] for part in ("version", "uri", "digest")},
                }
                for kind in ComponentKind
            ],
            "change_categories": data["change_categories"],
        }


class GateCheckForm(forms.Form):
    criterion = forms.ChoiceField(choices=GateCriterion.choices)
    comparison = forms.ChoiceField(
        choices=Comparison.choices,
        initial=Comparison.GTE,
        help_text="Numeric comparisons compute pass/fail; 'attested' takes your word for it.",
    )
    measured_value = forms.DecimalField(required=False, max_digits=20, decimal_places=6)
    target = forms.DecimalField(required=False, max_digits=20, decimal_places=6)
    unit = forms.CharField(required=False, max_length=20)
    attested_pass = forms.TypedChoiceField(
        choices=[("", "—"), ("true", "Met"), ("false", "Not met")],
        required=False,
        coerce=lambda v: v == "true",
        empty_value=None,
        label="Attestation",
    )
    evidence_uri = forms.CharField(
        max_length=500,
        label="Evidence link",
        validators=[validate_evidence_uri],
        help_text="https://, s3://, gs:// or a page of this site.",
    )
    note = forms.CharField(
        required=False, max_length=NOTE, widget=forms.Textarea(attrs={"rows": 2})
    )


class ApprovalForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(max_length=COMMENT, widget=forms.Textarea(attrs={"rows": 3}))
    # The return of a rolled-back release: the rollback (and incident) the decision answers.
    cites_rollback = forms.IntegerField(required=False, widget=forms.HiddenInput)


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


class EnvironmentRollbackForm(forms.Form):
    reason = forms.CharField(max_length=NOTE)
    drill = forms.BooleanField(required=False)
    # What the confirmation named: the service refuses the press if it no longer holds.
    further = forms.BooleanField(required=False)
    expected_from = forms.CharField(max_length=64, required=False)
    expected_target = forms.CharField(max_length=64, required=False)


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

"""Registering and editing a release, recording gate evidence, deciding on it."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from governance.limits import COMMENT, NAME, NOTE, PROSE
from governance.models import AISystem
from governance.validators import (
    validate_artefact_uri,
    validate_evidence_uri,
)
from releases.content import stack_of, suggest_categories
from releases.models import (
    MODEL_CARD_FIELDS,
    ChangeCategory,
    Comparison,
    ComponentKind,
    Decision,
    GateCriterion,
    Release,
)

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
    # The release the form was prefilled from (?from=): the new one records it.
    based_on = forms.ModelChoiceField(
        queryset=Release.objects.none(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, systems: Any, release: Release | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["system"]).queryset = systems
        if systems is not None:
            cast(forms.ModelChoiceField, self.fields["based_on"]).queryset = Release.objects.filter(
                system__in=systems
            )
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
        if release is not None:  # editing a draft: system, version and origin stay
            del self.fields["system"], self.fields["version"], self.fields["based_on"]

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

    @classmethod
    def initial_from_base(cls, base: Release) -> dict[str, Any]:
        """A new release started from `base`: its stack and card, but neither its title nor
        what it changed (that is this release's to say), nor its categories (the diff
        suggests this release's)."""
        initial = cls.initial_from(base)
        del initial["title"], initial["change_categories"]
        initial.update(system=base.system, based_on=base.pk, what_changed="")
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        base, system = data.get("based_on"), data.get("system")
        if base is not None and system is not None and base.system_id != system.pk:
            data["based_on"] = None  # the author moved the stack to another system
        return data

    def typed_stack(self) -> list[dict[str, str]]:
        """The stack as typed so far (bound form), unchecked: what the diff suggestion reads."""
        return [
            {
                "kind": kind.value,
                **{
                    part: str(self.data.get(self.add_prefix(f"{kind.value}_{part}"), "")).strip()
                    for part in ("version", "uri", "digest")
                },
            }
            for kind in ComponentKind
        ]

    def suggested_categories(self, base: Release | None) -> list[ChangeCategory]:
        """The categories the typed stack's diff against `base` suggests (releases.content,
        as the registry intake does); nothing before anything is typed."""
        if base is None or not self.is_bound:
            return []
        after = self.typed_stack()
        for component in after:  # the digest as the service will store it
            component["digest"] = component["digest"].lower().removeprefix("sha256:")
        return suggest_categories(stack_of(base), after)

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

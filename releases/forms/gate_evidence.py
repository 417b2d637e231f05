"""The whole release gate in one form: a row per criterion, the empty rows left out."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from governance.limits import NOTE
from governance.validators import validate_evidence_uri
from releases.forms.release import GateCheckForm
from releases.models import Comparison, GateCriterion

# How each criterion is usually measured: the row opens with it, the author may change it.
USUAL_COMPARISON = {
    GateCriterion.BENCHMARK: Comparison.GTE,
    GateCriterion.PROTECTED_SEGMENTS: Comparison.LTE,
    GateCriterion.LATENCY: Comparison.LTE,
}
NUMBER = {"class": "mono", "inputmode": "decimal", "autocomplete": "off"}


class GateEvidenceRow(forms.Form):
    """One criterion's check. Left empty, the row records nothing."""

    criterion = forms.ChoiceField(choices=GateCriterion.choices, widget=forms.HiddenInput)
    comparison = forms.ChoiceField(choices=Comparison.choices)
    # Text, not a number input: what was typed is what is stored (0.9137 stays 0.9137).
    measured_value = forms.DecimalField(
        required=False, max_digits=20, decimal_places=6, widget=forms.TextInput(attrs=NUMBER)
    )
    target = forms.DecimalField(
        required=False, max_digits=20, decimal_places=6, widget=forms.TextInput(attrs=NUMBER)
    )
    unit = forms.CharField(required=False, max_length=20)
    attested_pass = GateCheckForm.base_fields["attested_pass"]
    evidence_uri = forms.CharField(
        required=False,
        max_length=500,
        label="Evidence link",
        validators=[validate_evidence_uri],
        widget=forms.TextInput(attrs={"placeholder": "https://…"}),
    )
    note = forms.CharField(required=False, max_length=NOTE)

    def is_filled(self) -> bool:
        data = self.cleaned_data
        return any(
            data.get(name) not in (None, "")
            for name in ("measured_value", "target", "attested_pass", "evidence_uri", "note")
        )

    def check(self) -> dict[str, Any]:
        """The row as record_gate_check takes it."""
        return {name: value for name, value in self.cleaned_data.items() if value is not None}

    @property
    def criterion_label(self) -> str:
        value = self["criterion"].value()
        return dict(GateCriterion.choices).get(value, str(value))  # a tampered row names itself


class BaseGateEvidenceFormSet(forms.BaseFormSet):
    def filled(self) -> list[tuple[int, GateEvidenceRow]]:
        return [(n, row) for n, row in enumerate(self.forms) if row.is_filled()]


GateEvidenceFormSet = forms.formset_factory(
    GateEvidenceRow, formset=BaseGateEvidenceFormSet, extra=0, max_num=len(GateCriterion)
)


def gate_evidence_formset(criteria: list[str], data: Any = None) -> BaseGateEvidenceFormSet:
    """A row for each of `criteria`, in that order."""
    initial = [
        {"criterion": c, "comparison": USUAL_COMPARISON.get(c, Comparison.ATTESTED)}  # type: ignore[call-overload]
        for c in criteria
    ]
    return cast(BaseGateEvidenceFormSet, GateEvidenceFormSet(data, initial=initial, prefix="gate"))

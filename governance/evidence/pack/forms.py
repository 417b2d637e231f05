"""The evidence-pack page's form: a period of whole days, first and last included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.evidence.pack.period import PackPeriod, parse_period

DEFAULT_DAYS = 30


class EvidencePackForm(forms.Form):
    """Fields named `from` and `to` (keywords in Python, plain words in a query string)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.now().date()
        date_input = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["from"] = forms.DateField(
            label="First day", widget=date_input, initial=today - timedelta(days=DEFAULT_DAYS),
            help_text="UTC, included.",
        )  # fmt: skip
        self.fields["to"] = forms.DateField(
            label="Last day", widget=date_input, initial=today, help_text="UTC, included."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from") and data.get("to"):
            try:
                data["period"] = parse_period(data["from"], data["to"])
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        return data

    @property
    def period(self) -> PackPeriod:
        return self.cleaned_data["period"]

"""Forms of the incident list and the war room. They read input; the services hold the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from governance.limits import COMMENT, NAME, NOTE, POST
from governance.models import AISystem
from governance.people import display_name
from governance.permissions import visible_systems
from incidents.art73 import (
    harm_choices,
    member_state_choices,
    operator_recipient_choices,
    organisation_zone,
)
from incidents.models import (
    Category,
    ContainmentKind,
    ContainmentStatus,
    EntryKind,
    Incident,
    IncidentRoleKind,
    Severity,
    Source,
    Stage,
)
from releases.models import Environment


class DeclareForm(forms.Form):
    """The system first; then only that system's environments, its production one chosen."""

    system = forms.ModelChoiceField(queryset=AISystem.objects.none(), empty_label=None)
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.none(),
        required=False,
        empty_label="Not tied to one environment",
        help_text="The release live there now is captured into the incident.",
        error_messages={
            "invalid_choice": "Choose one of the chosen system's environments: "
            "that one is not among them."
        },
    )
    title = forms.CharField(max_length=NAME, help_text="What is wrong, in a few words.")
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.SEV2)
    category = forms.ChoiceField(choices=Category.choices)
    source = forms.ChoiceField(choices=Source.choices, initial=Source.USER_REPORT)
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=COMMENT,
        required=False,
        help_text="What you see, since when, who reported it.",
    )

    def __init__(
        self, *args: Any, systems: QuerySet[AISystem], system: AISystem, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = systems  # type: ignore[attr-defined]
        self.fields["system"].initial = system
        # Choosing a system swaps in its environments (the view answers htmx with them).
        self.fields["system"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:declare"),
                "hx-target": "#declare-environment",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
            }
        )
        environments = Environment.objects.filter(system=system).order_by("-is_production", "name")
        self.fields["environment"].queryset = environments  # type: ignore[attr-defined]
        self.fields["environment"].initial = next(
            (env for env in environments if env.is_production), None
        )
        self.fields["environment"].label_from_instance = environment_label  # type: ignore[attr-defined]


def environment_label(environment: Environment) -> str:
    """Its name, saying it is production unless the name already does."""
    name = environment.name
    if environment.is_production and "prod" not in name.lower():
        return f"{name} (production)"
    return name


def chosen_system(systems: QuerySet[AISystem], value: str | None) -> AISystem:
    """The system a declaration is about: named by id (the form) or slug (a link), else the
    first one the person may declare on."""
    value = (value or "").strip()
    found = None
    if value.isdigit():
        found = systems.filter(pk=int(value)).first()
    elif value:
        found = systems.filter(slug=value).first()
    return found or systems.first()  # type: ignore[return-value]


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    reason = forms.CharField(max_length=NOTE, required=False)


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices)
    reason = forms.CharField(max_length=NOTE)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=IncidentRoleKind.choices)
    user: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), empty_label="Choose a person"
    )  # the people of the incident's system, set per form

    def __init__(self, *args: Any, people: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = people  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = display_name  # type: ignore[attr-defined]


class PostForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=POST)
    kind = forms.ChoiceField(
        choices=[(EntryKind.NOTE, "Note"), (EntryKind.STATUS_UPDATE, "Status update")],
        initial=EntryKind.NOTE,
    )


class ContainmentForm(forms.Form):
    kind = forms.ChoiceField(choices=ContainmentKind.choices)
    target = forms.CharField(
        max_length=300, help_text="The feature, rule, endpoint or fallback model."
    )


class ContainmentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s, s) for s in ContainmentStatus.values])


class OrganisationTimeField(forms.DateTimeField):
    """A time typed without a zone is read in the organisation's (ORGANISATION_TIME_ZONE)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"})

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(organisation_zone()):
            return super().to_python(value)


class SeriousForm(forms.Form):
    harm_categories = forms.MultipleChoiceField(choices=harm_choices, label="Harms")
    involves_death = forms.BooleanField(required=False, label="A person died")
    widespread_infringement = forms.BooleanField(required=False, label="Widespread infringement")
    aware_at = OrganisationTimeField(
        required=False, help_text="Empty: now. The reporting clock runs from this moment."
    )


class ReportSentForm(forms.Form):
    complete = forms.TypedChoiceField(
        choices=[("false", "Initial report"), ("true", "Complete report")],
        coerce=lambda value: value == "true",
    )
    sent_at = OrganisationTimeField(required=False)
    member_state = forms.ChoiceField(
        choices=lambda: [("", "—"), *member_state_choices()], required=False
    )
    authority = forms.CharField(max_length=NAME, required=False)
    reference = forms.CharField(max_length=NAME, required=False)


class CausalLinkForm(forms.Form):
    at = OrganisationTimeField(required=False)


class OperatorNoticeForm(forms.Form):
    recipient = forms.ChoiceField(choices=operator_recipient_choices)
    name = forms.CharField(max_length=NAME)
    sent_at = OrganisationTimeField(required=False)
    reference = forms.CharField(max_length=NAME, required=False)


class HotfixForm(forms.Form):
    release = forms.IntegerField(min_value=1, max_value=2**31 - 1)


class IncidentListFilter(django_filters.FilterSet):
    """The incident list: open ones first, the most severe on top."""

    state = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("closed", "Closed")],
        method="filter_state",
        empty_label="Open and closed",
    )
    system = django_filters.ModelChoiceFilter(
        queryset=AISystem.objects.none(), to_field_name="slug", empty_label="All systems"
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")

    class Meta:
        model = Incident
        fields = ["state", "system", "severity"]

    def __init__(self, data: Any = None, *args: Any, user: Any, **kwargs: Any) -> None:
        if data is not None and "state" not in data:
            data = data.copy()
            data["state"] = "open"
        super().__init__(data, *args, **kwargs)
        self.filters["system"].queryset = visible_systems(user).order_by("name")

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.exclude(stage=Stage.CLOSED)
        return queryset.filter(stage=Stage.CLOSED) if value == "closed" else queryset

    @property
    def qs(self) -> QuerySet:
        open_first = Case(
            When(stage=Stage.CLOSED, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
        return super().qs.order_by(open_first, "severity", "-detected_at", "-id")


class RollbackForm(forms.Form):
    reason = forms.CharField(max_length=NOTE, widget=forms.Textarea(attrs={"rows": 2}))
    # What the confirmation named: the service refuses the press if it no longer holds.
    further = forms.BooleanField(required=False)
    expected_from = forms.CharField(max_length=64, required=False)
    expected_target = forms.CharField(max_length=64, required=False)


class DriftAdoptForm(forms.Form):
    reason = forms.CharField(max_length=NOTE, widget=forms.Textarea(attrs={"rows": 2}))
    # What the page showed the backend running: refused if the backend reports another now.
    expected = forms.CharField(max_length=200)


class RollbackDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("dismiss", "Dismiss")])
    reason = forms.CharField(max_length=NOTE, required=False)

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from governance.models import AISystem, RiskCategory
from governance.people import person_label
from governance.permissions import systems_with_a_role
from governance.roles import Role
from governance.services import API_TOKEN_EXPIRY_DAYS, API_TOKEN_NAME_LENGTH


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:  # type: ignore[no-untyped-def]
        return person_label(obj)


class SingleUserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:  # type: ignore[no-untyped-def]
        return person_label(obj)


class SystemForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Used in URLs. Leave empty to derive it from the name.",
    )
    intended_purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the system decides, for whom, and where it is used.",
    )
    risk_category = forms.ChoiceField(choices=RiskCategory.choices, label="EU AI Act risk category")
    owners = UserChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Owners edit this entry and manage roles. You are always one on creation.",
    )

    @classmethod
    def for_system(cls, system: AISystem, data=None) -> SystemForm:  # type: ignore[no-untyped-def]
        owners = system.role_grants.filter(role=Role.OWNER, user__isnull=False).values_list(
            "user_id", flat=True
        )
        initial = {
            "name": system.name,
            "slug": system.slug,
            "intended_purpose": system.intended_purpose,
            "risk_category": system.risk_category,
            "owners": list(owners),
        }
        form = cls(data=data, initial=initial)
        form.fields["slug"].required = True
        form.fields["slug"].help_text = "Used in URLs and the API; changing it breaks old links."
        form.fields["owners"].required = True
        form.fields["owners"].help_text = "Owners edit this entry and manage roles."
        return form


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    user = SingleUserChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="— a user —",
    )
    group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, empty_label="— or a group —"
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError("Choose either a user or a group.")
        return data


def _expiry_label(days: int) -> str:
    return "1 year" if days == 365 else f"{days} days"


EXPIRY_CHOICES = [
    *((str(days), _expiry_label(days)) for days in API_TOKEN_EXPIRY_DAYS),
    ("never", "Never"),
]


class ApiTokenForm(forms.Form):
    """Name, system (one the user holds a role on) and expiry of a new API token."""

    name = forms.CharField(
        max_length=API_TOKEN_NAME_LENGTH,
        help_text="What will use it, e.g. “release bot (CI)”.",
        widget=forms.TextInput(attrs={"placeholder": "release bot (CI)", "autocomplete": "off"}),
    )
    system = forms.ModelChoiceField(
        queryset=AISystem.objects.none(),
        empty_label="— choose a system —",
        label="AI system",
        help_text="The one system it may act on, with the roles you hold there.",
    )
    expires_in = forms.ChoiceField(
        choices=EXPIRY_CHOICES,
        initial="30",
        label="Expires",
        help_text="A token that never expires is one more thing to remember to revoke.",
    )

    def __init__(self, *args, user, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        field = self.fields["system"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = systems_with_a_role(user).order_by("name")

    def clean_expires_in(self) -> int | None:
        value = self.cleaned_data["expires_in"]
        return None if value == "never" else int(value)

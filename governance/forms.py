from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse_lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString

from governance.limits import NAME, PROSE
from governance.models import (
    AISystem,
    DriftSeverity,
    OperatorRole,
    ReportingRegime,
    RiskCategory,
)
from governance.people import SEARCH_MIN_CHARS, person_label, resolve_person
from governance.permissions import people_sharing_a_system, systems_with_a_role
from governance.roles import Role
from governance.services import API_TOKEN_EXPIRY_DAYS, API_TOKEN_NAME_LENGTH


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:  # type: ignore[no-untyped-def]
        return person_label(obj)


class PersonInput(forms.TextInput):
    """A username or email typed in full; after SEARCH_MIN_CHARS characters the people search
    (governance:people-search) lists a few matches below it, and choosing one fills it in
    (static/js/failsafe.js). Not a <datalist>: Chromium draws its popup with inline styles,
    which the Content-Security-Policy refuses."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "autocomplete": "off",
                "spellcheck": "false",
                "minlength": SEARCH_MIN_CHARS,
                "placeholder": "username or email",
                "hx-get": reverse_lazy("governance:people-search"),
                "hx-trigger": "input changed delay:300ms",
                "hx-swap": "innerHTML",
                **(attrs or {}),
            }
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        options = f"{context['widget']['attrs'].get('id', name)}-options"
        context["widget"]["attrs"].update({"hx-target": f"#{options}", "aria-controls": options})
        return context

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        field = super().render(name, value, attrs, renderer)
        input_id = (attrs or {}).get("id", name)
        return format_html(
            '{}<div class="person-options" id="{}-options" data-person-options="{}" '
            'aria-live="polite"></div>',
            field,
            input_id,
            input_id,
        )


class PersonField(forms.CharField):
    """One active person, named by their exact username or email: nobody is listed."""

    widget = PersonInput
    default_error_messages = {"unknown": "Nobody active has that username or email."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text:
            return None
        person = resolve_person(text)
        if person is None:
            raise forms.ValidationError(self.error_messages["unknown"], code="unknown")
        return person


def kept_secret(*, max_length: int, label: str, help_text: str) -> forms.CharField:
    """A secret's input: never shown back, optional (left blank, the stored one stays)."""
    return forms.CharField(
        required=False,
        max_length=max_length,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        label=label,
        help_text=help_text,
    )


class SystemForm(forms.Form):
    name = forms.CharField(max_length=NAME)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Used in URLs. Leave empty to derive it from the name.",
    )
    intended_purpose = forms.CharField(
        max_length=PROSE,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the system decides, for whom, and where it is used.",
    )
    risk_category = forms.ChoiceField(choices=RiskCategory.choices, label="EU AI Act risk category")
    operator_role = forms.ChoiceField(
        choices=OperatorRole.choices,
        initial=OperatorRole.PROVIDER,
        required=False,
        label="Your organisation's role",
        help_text="Provider: you place it on the market or put it into service under your name. "
        "Deployer: you use a system someone else provides. It decides who you report "
        "serious incidents to first.",
    )
    reporting_regime = forms.ChoiceField(
        choices=ReportingRegime.choices,
        initial=ReportingRegime.AI_ACT,
        required=False,
        label="Serious incidents reported under",
        help_text="Where sector law already has incidents reported (Art. 73(9), medical devices "
        "Art. 73(10)), only fundamental-rights infringements are reported under the AI Act.",
    )
    drift_severity = forms.ChoiceField(
        choices=DriftSeverity.choices,
        required=False,
        label="Severity of an ungoverned change",
        help_text="The incident declared when a backend reports a release Failsafe did not put "
        "live. By risk tier: high or prohibited SEV1, limited SEV2, minimal SEV3.",
    )
    # A secret: never shown back. Left blank, the key set stays; "stop paging" clears it.
    pagerduty_routing_key = kept_secret(
        max_length=100,
        label="PagerDuty integration key",
        help_text="The Events API v2 integration key of the PagerDuty service to page for a "
        "SEV1 or SEV2 incident. Left blank: kept as it is.",
    )
    stop_paging = forms.BooleanField(required=False, label="Stop paging PagerDuty")
    # The Slack app's bot token: a secret as the key above. The channel is no secret.
    slack_bot_token = kept_secret(
        max_length=255,
        label="Slack bot token",
        help_text="The Slack app's Bot User OAuth Token (xoxb-…): incidents are posted to the "
        "channel below, with ROLL BACK NOW on them. Left blank: kept as it is.",
    )
    slack_channel_id = forms.CharField(
        required=False,
        max_length=32,
        strip=True,
        label="Slack channel id",
        help_text="The channel's id (C…), shown at the bottom of its details in Slack; invite "
        "the app to it.",
    )
    stop_slack = forms.BooleanField(required=False, label="Stop posting to Slack")
    # Only people who share a system with the one filling the form are listed (and the
    # current owners); anyone else is added by their exact username or email.
    owners = UserChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Owners edit this entry and manage roles. You are always one on creation.",
    )
    add_owner = PersonField(
        required=False,
        label="Add an owner",
        help_text="Their exact username or email; people you share a system with are listed above.",
    )

    def __init__(self, *args: Any, actor: Any, system: AISystem | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.system = system
        offered = people_sharing_a_system(actor)
        if system is not None:
            owners = system.role_grants.filter(role=Role.OWNER, user__isnull=False)
            offered = offered | get_user_model().objects.filter(pk__in=owners.values("user"))
        field = self.fields["owners"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = offered.distinct().order_by("first_name", "last_name", "username")

    # Not sent (an older form, a script): the system keeps what it has, a new one the default.
    def clean_operator_role(self) -> str:
        chosen = self.cleaned_data.get("operator_role")
        return chosen or (self.system.operator_role if self.system else OperatorRole.PROVIDER)

    def clean_reporting_regime(self) -> str:
        chosen = self.cleaned_data.get("reporting_regime")
        return chosen or (self.system.reporting_regime if self.system else ReportingRegime.AI_ACT)

    def clean_drift_severity(self) -> str:
        if "drift_severity" not in self.data:  # not sent: kept (blank, "by risk tier", is a choice)
            return self.system.drift_severity if self.system else DriftSeverity.BY_RISK
        return self.cleaned_data.get("drift_severity") or DriftSeverity.BY_RISK

    def clean(self) -> dict:
        data = super().clean() or {}
        key, stop = data.pop("pagerduty_routing_key", ""), data.pop("stop_paging", False)
        if stop:
            data["pagerduty_routing_key"] = ""
        elif key or self.system is None:
            data["pagerduty_routing_key"] = key
        token, stop = data.pop("slack_bot_token", ""), data.pop("stop_slack", False)
        if stop:
            data["slack_bot_token"], data["slack_channel_id"] = "", ""
        elif token or self.system is None:
            data["slack_bot_token"] = token
        extra = data.pop("add_owner", None)
        if extra is not None:
            data["owners"] = [*data.get("owners", []), extra]
        if self.system is not None and not data.get("owners") and "owners" not in self.errors:
            self.add_error("owners", "A system needs at least one owner.")
        return data

    @classmethod
    def for_system(cls, system: AISystem, *, actor: Any, data=None) -> SystemForm:  # type: ignore[no-untyped-def]
        owners = system.role_grants.filter(role=Role.OWNER, user__isnull=False).values_list(
            "user_id", flat=True
        )
        initial = {
            "name": system.name,
            "slug": system.slug,
            "intended_purpose": system.intended_purpose,
            "risk_category": system.risk_category,
            "operator_role": system.operator_role,
            "reporting_regime": system.reporting_regime,
            "drift_severity": system.drift_severity,
            "slack_channel_id": system.slack_channel_id,
            "owners": list(owners),
        }
        form = cls(data=data, initial=initial, actor=actor, system=system)
        form.fields["slug"].required = True
        form.fields["slug"].help_text = "Used in URLs and the API; changing it breaks old links."
        form.fields["owners"].help_text = "Owners edit this entry and manage roles."
        return form


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    user = PersonField(required=False)
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

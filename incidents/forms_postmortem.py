"""Forms of the post-mortem, action-item and alert-token pages. They shape input; the services
in incidents.services decide what is allowed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms

from governance.limits import PROSE
from governance.people import person_label
from incidents.models import ActionItem, ActionItemStatus
from incidents.services.postmortem import POSTMORTEM_FIELDS

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Label and prompt of each post-mortem field, in POSTMORTEM_FIELDS order. Blameless prompts:
# they ask about systems and conditions, never about who.
POSTMORTEM_PROMPTS: dict[str, tuple[str, str]] = {
    "summary": (
        "Summary",
        "What happened and how it ended, in a few sentences anyone in the company can follow.",
    ),
    "impact": (
        "Impact",
        "Who or what was affected, how badly, and for how long: customers, decisions, money.",
    ),
    "root_cause_code": ("In code", "Application, pipeline, feature or SDK code."),
    "root_cause_model": ("In the model", "Weights, thresholds, calibration, features used."),
    "root_cause_data": ("In the data", "Training, evaluation or live input data."),
    "contributing_factors": (
        "Contributing factors",
        "Conditions that made it likelier or worse: processes, tooling, timing. Not people.",
    ),
    "detection_gaps": (
        "Detection gaps",
        "What should have told us sooner, and why it did not.",
    ),
    "went_well": ("What went well", "Keep doing these."),
    "went_badly": ("What went badly", "Slowed us down or made things worse."),
}

# Generous, but a bound: a pasted log belongs in the evidence, not in the review.
POSTMORTEM_MAX_LENGTH = PROSE


class PostMortemForm(forms.Form):
    """Every post-mortem field; each may stay empty while the review is a draft."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in POSTMORTEM_FIELDS:  # the service names the fields; a new one needs a prompt
            label, help_text = POSTMORTEM_PROMPTS[name]
            rows = 5 if name in ("summary", "impact") else 4
            self.fields[name] = forms.CharField(
                label=label,
                help_text=help_text,
                required=False,
                max_length=POSTMORTEM_MAX_LENGTH,
                widget=forms.Textarea(attrs={"rows": rows}),
            )

    @classmethod
    def initial_from(cls, postmortem: Any) -> dict[str, str]:
        if postmortem is None:
            return {}
        return {name: getattr(postmortem, name) for name in POSTMORTEM_FIELDS}


class _ActionItemFields(forms.Form):
    """Owner and due date, shared by adding and changing an action item.

    The owner is chosen among `people` (those who can see the system), loaded once by the
    view: every row of the action-item table has its own form, and none may cost a query.
    """

    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Owner")
    due_date = forms.DateField(
        required=False,
        label="Due",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, people: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {user.pk: user for user in people}
        cast(forms.TypedChoiceField, self.fields["owner"]).choices = [
            ("", "Unassigned"),
            *((pk, person_label(user)) for pk, user in self.people.items()),
        ]

    def clean_owner(self) -> User | None:
        pk = self.cleaned_data["owner"]
        return None if pk is None else self.people[pk]


class ActionItemForm(_ActionItemFields):
    title = forms.CharField(
        max_length=200,
        label="Action item",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Alert on review rate per channel"}),
    )
    field_order = ["title", "owner", "due_date"]


class ActionItemUpdateForm(_ActionItemFields):
    status = forms.ChoiceField(choices=ActionItemStatus.choices, label="Status")
    field_order = ["owner", "due_date", "status"]

    @classmethod
    def for_item(
        cls, item: ActionItem, *, people: list[User], data: Any = None
    ) -> ActionItemUpdateForm:
        """The form of one table row: ids unique on the page; the owner kept as a choice even
        if they no longer hold a role (the service then asks for another)."""
        if item.owner is not None and item.owner not in people:
            people = [*people, item.owner]
        form = cls(
            data,
            people=people,
            auto_id=f"item-{item.pk}-%s",
            initial={"owner": item.owner_id, "due_date": item.due_date, "status": item.status},
        )
        # The controls sit in the row's cells; the <form> they belong to sits in its first.
        for field in form.fields.values():
            field.widget.attrs["form"] = f"item-{item.pk}-form"
        return form


class AlertTokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        label="Name",
        help_text="What will use it, e.g. “Alertmanager prod-eu”.",
        widget=forms.TextInput(attrs={"placeholder": "Alertmanager", "autocomplete": "off"}),
    )

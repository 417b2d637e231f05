"""What the war room does and sends: containment actions, and the notices to the
authority (Art. 73) and to the operators (Art. 26(5))."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.limits import NAME
from incidents.art73 import member_state_choices, operator_recipient_choices
from incidents.models.incident import Incident
from releases.models import Release


class ContainmentKind(models.TextChoices):
    DISABLE_FEATURE = "disable_feature", "Disable a feature"
    BLOCK_RULE = "block_rule", "Block prompts or outputs matching a rule"
    RESTRICT_ENDPOINT = "restrict_endpoint", "Restrict an endpoint"
    ROUTE_FALLBACK = "route_fallback", "Route traffic to a fallback model"


class ContainmentStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    DONE = "done", "Done"
    UNDONE = "undone", "Undone"


class ContainmentAction(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="containments")
    kind = models.CharField(max_length=20, choices=ContainmentKind.choices)
    target = models.CharField(max_length=300, help_text="The feature, rule, endpoint or model")
    status = models.CharField(
        max_length=10, choices=ContainmentStatus.choices, default=ContainmentStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target}"


class SentNotice(models.Model):
    """A notice sent about a serious incident, as recorded: when it went out, the recipient's
    reference, and who recorded it. Append-only in the database (migration 0010)."""

    reference = models.CharField(max_length=NAME, blank=True)
    sent_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["sent_at", "id"]


class AuthorityNotification(SentNotice):
    """A report sent to a Member State's market surveillance authority (Art. 73(1)): the
    initial or the complete one, to whom, when, and the authority's reference."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="authority_notifications"
    )
    complete = models.BooleanField()
    member_state = models.CharField(max_length=2, choices=member_state_choices())
    authority = models.CharField(max_length=NAME)

    def __str__(self) -> str:
        return f"{self.authority} ({self.member_state})"


class OperatorNotice(SentNotice):
    """A deployer telling the provider, then the importer or distributor, of a serious incident
    (Art. 26(5)): to whom, when, and their reference."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="operator_notices"
    )
    recipient = models.CharField(max_length=16, choices=operator_recipient_choices())
    name = models.CharField(max_length=NAME)

    def __str__(self) -> str:
        return f"{self.get_recipient_display()} {self.name}"


class Hotfix(models.Model):
    """A release the incident's lead names as its fix: while the incident freezes changes to
    its environment, a hotfix is the one promotion let through (the other rules still hold)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="hotfixes")
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    cited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    cited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cited_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "release"], name="one_citation_a_hotfix")
        ]

    def __str__(self) -> str:
        return f"{self.release.version} fixes INC-{self.incident_id}"

"""Classifying a serious incident (EU AI Act) and recording the reports sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.permissions import require
from governance.roles import Action
from governance.validators import check_value
from incidents.art73 import (
    harm_choices,
    harm_label,
    member_state_choices,
    operator_recipient_choices,
    outside_article_73,
    reporting_clock,
    rules,
    sector_limit,
)
from incidents.models import AuthorityNotification, EntryKind, Incident, OperatorNotice
from incidents.services.lifecycle import lock_incident
from incidents.services.timeline import record

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def classify_serious(
    *,
    actor: User,
    incident: Incident,
    harm_categories: list[str],
    aware_at: datetime | None = None,
    involves_death: bool = False,
    widespread_infringement: bool = False,
) -> Incident:
    """Mark the incident serious (Art. 3(49)): every harm it led to; the Art. 73 clock runs
    from awareness, to the shortest deadline that applies."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    warning = outside_article_73(incident)
    if warning and settings.SERIOUS_INCIDENTS_HIGH_RISK_ONLY:
        raise ValidationError(rules()["high_risk_only"]["refusal"])
    known = [key for key, _label in harm_choices()]
    harms = [key for key in known if key in set(harm_categories)]  # in the file's order
    if not harms or len(harms) != len(set(harm_categories)):
        raise ValidationError(
            {"harm_categories": "Choose every harm that makes it serious (Art. 3(49))."}
        )
    if involves_death and "death_or_health" not in harms:
        raise ValidationError(
            {"involves_death": "A death is harm to health: choose that harm too."}
        )
    now = timezone.now()
    aware_at = (aware_at or now).astimezone(UTC)  # stored and written in UTC, whatever zone
    if aware_at > now:
        raise ValidationError({"aware_at": "Awareness cannot be in the future."})
    incident.is_serious, incident.harm_categories, incident.aware_at = True, harms, aware_at
    incident.involves_death, incident.widespread_infringement = (
        involves_death,
        widespread_infringement,
    )
    incident.save()
    clock = reporting_clock(incident)
    if clock is not None:
        due = (
            f"Report due by {clock.deadline:%Y-%m-%d %H:%M} UTC "
            f"({clock.days} days, {clock.citation})."
        )
    else:  # a sector limit leaves none of its harms to the AI Act (Art. 73(9), (10))
        limit = sector_limit(incident.system)
        assert limit is not None
        due = f"{limit['article']}: {rules()['sector_limits']['outside']}"
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.classified_serious",
        body=f"Classified serious ({'; '.join(harm_label(key) for key in harms)}). {due}"
        + (f" {warning}" if warning else ""),
        after={
            "harm_categories": harms,
            "aware_at": aware_at.isoformat(),
            "deadline": clock.deadline.isoformat() if clock else None,
            "article": clock.article if clock else None,
        },
    )
    return incident


@transaction.atomic
def record_report_sent(
    *,
    actor: User,
    incident: Incident,
    complete: bool,
    sent_at: datetime | None = None,
    member_state: str = "",
    authority: str = "",
    reference: str = "",
) -> Incident:
    """Record that the initial (possibly incomplete, Art. 73(5)) or the complete report went
    out, and to which Member State's authority, with its reference. The same report sent to
    another authority is recorded again, with that authority."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    if not incident.is_serious:
        raise ValidationError("Only a serious incident is reported to the authority.")
    sent_at = (sent_at or timezone.now()).astimezone(UTC)
    if sent_at > timezone.now():
        raise ValidationError({"sent_at": "A report cannot be sent in the future."})
    notification = _notification(incident, complete, sent_at, member_state, authority, reference)
    field = "complete_report_sent_at" if complete else "initial_report_sent_at"
    first_of_its_kind = getattr(incident, field) is None
    if not first_of_its_kind and notification is None:
        raise ValidationError("That report is already recorded.")
    if first_of_its_kind:
        setattr(incident, field, sent_at)
        incident.save(update_fields=[field])
    if notification is not None:
        notification.recorded_by = actor
        notification.save()
    which = "Complete" if complete else "Initial"
    to = " to the authority"
    if notification is not None:
        to = f" to {notification.authority} ({notification.get_member_state_display()})"
        if notification.reference:
            to += f", reference {notification.reference}"
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.report_sent",
        body=f"{which} report sent{to} at {sent_at:%Y-%m-%d %H:%M} UTC." + _order_warning(incident),
        after={
            field: sent_at.isoformat(),
            "member_state": member_state,
            "authority": authority.strip(),
            "reference": reference.strip(),
        },
    )
    return incident


def _notification(
    incident: Incident,
    complete: bool,
    sent_at: datetime,
    member_state: str,
    authority: str,
    reference: str,
) -> AuthorityNotification | None:
    """The authority the report went to, checked; None if the caller named none."""
    authority, reference = authority.strip(), reference.strip()
    if not (member_state or authority or reference):
        return None
    errors = {}
    if member_state not in dict(member_state_choices()):
        errors["member_state"] = "Choose the Member State whose authority was notified."
    if not authority:
        errors["authority"] = "Name the market surveillance authority notified."
    if errors:
        raise ValidationError(errors)
    check_value(AuthorityNotification, "authority", authority)
    check_value(AuthorityNotification, "reference", reference)
    if incident.authority_notifications.filter(
        complete=complete, member_state=member_state, authority=authority
    ).exists():
        raise ValidationError("That report to that authority is already recorded.")
    return AuthorityNotification(
        incident=incident,
        complete=complete,
        member_state=member_state,
        authority=authority,
        reference=reference,
        sent_at=sent_at,
    )


def _order_warning(incident: Incident, recipient: str = "") -> str:
    """A deployer's notice to anyone but the provider, with no provider informed yet."""
    if incident.system.operator_role != "deployer" or recipient == "provider":
        return ""
    if incident.operator_notices.filter(recipient="provider").exists():
        return ""
    return " " + str(rules()["operator_roles"]["deployer"]["order_warning"])


@transaction.atomic
def record_operator_notice(
    *,
    actor: User,
    incident: Incident,
    recipient: str,
    name: str,
    sent_at: datetime | None = None,
    reference: str = "",
) -> OperatorNotice:
    """A deployer informed the provider, or then the importer or distributor, of the serious
    incident (Art. 26(5)): whom, when and their reference."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    duty = rules()["operator_roles"]["deployer"]
    if incident.system.operator_role != "deployer":
        raise ValidationError(
            f"Your organisation is this system's provider: it reports to the authority "
            f"({rules()['operator_roles']['provider']['article']}), it has no provider to inform."
        )
    if not incident.is_serious:
        raise ValidationError(
            f"Classify the incident serious first: {duty['article']} is about serious incidents."
        )
    errors = {}
    if recipient not in dict(operator_recipient_choices()):
        errors["recipient"] = "Choose the provider, the importer or the distributor."
    name, reference = name.strip(), reference.strip()
    if not name:
        errors["name"] = "Name whom you informed."
    sent_at = (sent_at or timezone.now()).astimezone(UTC)
    if sent_at > timezone.now():
        errors["sent_at"] = "A notice cannot be sent in the future."
    if errors:
        raise ValidationError(errors)
    check_value(OperatorNotice, "name", name)
    check_value(OperatorNotice, "reference", reference)
    if incident.operator_notices.filter(recipient=recipient, name=name).exists():
        raise ValidationError("That notice is already recorded.")
    notice = OperatorNotice.objects.create(
        incident=incident,
        recipient=recipient,
        name=name,
        reference=reference,
        sent_at=sent_at,
        recorded_by=actor,
    )
    label = notice.get_recipient_display()
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.operator_informed",
        body=f"{label} {name} informed at {sent_at:%Y-%m-%d %H:%M} UTC"
        + (f", reference {reference}" if reference else "")
        + f" ({duty['article']})."
        + _order_warning(incident, recipient),
        after={
            "recipient": recipient,
            "name": name,
            "reference": reference,
            "sent_at": sent_at.isoformat(),
        },
    )
    return notice


@transaction.atomic
def record_causal_link(*, actor: User, incident: Incident, at: datetime | None = None) -> Incident:
    """When the causal link between the AI system and the serious incident was established,
    or its reasonable likelihood (Art. 73(2), (4)): the report is due immediately after it."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    if not incident.is_serious:
        raise ValidationError("Classify the incident serious first (Art. 3(49)).")
    if incident.causal_link_at is not None:
        raise ValidationError("The causal link is already recorded.")
    at = (at or timezone.now()).astimezone(UTC)
    if at > timezone.now():
        raise ValidationError({"at": "The causal link cannot be established in the future."})
    incident.causal_link_at = at
    incident.save(update_fields=["causal_link_at"])
    due = rules()["causal_link"]
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.causal_link",
        body=f"{due['label']} at {at:%Y-%m-%d %H:%M} UTC. {due['due']} ({due['article']})",
        after={"causal_link_at": at.isoformat()},
    )
    return incident

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
from incidents.models import EntryKind, Incident
from incidents.reporting import (
    harm_choices,
    harm_label,
    outside_article_73,
    reporting_clock,
    rules,
)
from incidents.services.lifecycle import _lock
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
    incident = _lock(incident)
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
    assert clock is not None
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.classified_serious",
        body=f"Classified serious ({'; '.join(harm_label(key) for key in harms)}). Report due "
        f"by {clock.deadline:%Y-%m-%d %H:%M} UTC ({clock.days} days, {clock.citation})."
        + (f" {warning}" if warning else ""),
        after={
            "harm_categories": harms,
            "aware_at": aware_at.isoformat(),
            "deadline": clock.deadline.isoformat(),
            "article": clock.article,
        },
    )
    return incident


@transaction.atomic
def record_report_sent(
    *, actor: User, incident: Incident, complete: bool, sent_at: datetime | None = None
) -> Incident:
    """Record that the initial (possibly incomplete, Art. 73(5)) or the complete report went out."""
    incident = _lock(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    if not incident.is_serious:
        raise ValidationError("Only a serious incident is reported to the authority.")
    sent_at = (sent_at or timezone.now()).astimezone(UTC)
    if sent_at > timezone.now():
        raise ValidationError({"sent_at": "A report cannot be sent in the future."})
    field = "complete_report_sent_at" if complete else "initial_report_sent_at"
    if getattr(incident, field) is not None:
        raise ValidationError("That report is already recorded.")
    setattr(incident, field, sent_at)
    incident.save(update_fields=[field])
    which = "Complete" if complete else "Initial"
    record(
        incident,
        actor=actor,
        kind=EntryKind.SERIOUS,
        action="incident.report_sent",
        body=f"{which} report sent to the authority at {sent_at:%Y-%m-%d %H:%M} UTC.",
        after={field: sent_at.isoformat()},
    )
    return incident

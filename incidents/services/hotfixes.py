"""Naming a release as an incident's hotfix: the one promotion its change freeze lets through."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from governance.permissions import require
from governance.roles import Action
from incidents.models import EntryKind, Hotfix, Incident, Stage
from incidents.services.lifecycle import lock_incident
from incidents.services.timeline import record
from releases.models import Release

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def cite_hotfix(*, actor: User, incident: Incident, release: Release) -> Hotfix:
    """The incident's lead names `release` as its fix. The release still needs its approvals,
    plan and stage order; only the freeze steps aside for it."""
    incident = lock_incident(incident)
    require(actor, Action.LEAD_INCIDENT, incident.system)
    if release.system_id != incident.system_id:
        raise ValidationError({"release": "Choose a release of this incident's system."})
    if incident.stage == Stage.CLOSED:
        raise ValidationError("The incident is closed: it freezes nothing.")
    if incident.hotfixes.filter(release=release).exists():
        raise ValidationError({"release": f"{release.version} is already this incident's hotfix."})
    hotfix = Hotfix.objects.create(incident=incident, release=release, cited_by=actor)
    where = incident.environment.name if incident.environment else "the system's environments"
    record(
        incident,
        actor=actor,
        kind=EntryKind.NOTE,
        action="incident.hotfix_cited",
        body=f"{release.version} named as the hotfix: it may be promoted to {where} through "
        "the change freeze.",
        after={"release": release.version, "release_id": release.pk},
    )
    return hotfix

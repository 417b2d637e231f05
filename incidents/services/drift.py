"""The incident of an ungoverned change: declared when releases' reconcile records a drift,
its timeline told when the backend moves again, reports the record again, or the observed
release is adopted (the listener releases.drift.hooks calls, in the drift's transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance.limits import NAME, shorten
from incidents.models import Category, EntryKind, Incident, Source
from incidents.services.lifecycle import declare_incident
from incidents.services.timeline import record
from releases.notifications import Link

if TYPE_CHECKING:
    from releases.models import Drift


def record_drift_step(drift: Drift, event: str, message: str) -> None:
    """Listener of releases' drifts: "detected" declares the incident, anything later goes
    on its timeline (a resolved drift's incident stays open for its people to close)."""
    if event == "detected":
        declare_ungoverned_change(drift=drift, message=message)
        return
    incident = Incident.objects.filter(drift=drift).first()
    if incident is None:
        return
    record(
        incident,
        actor=drift.resolved_by if event == "adopted" else None,
        kind=EntryKind.DRIFT,
        action=f"incident.drift_{event}",
        body=message,
        data={"drift": drift.pk, "event": event, "observed": drift.observed_version},
        actor_name="reconcile",
    )


def declare_ungoverned_change(*, drift: Drift, message: str) -> Incident:
    """Declare the incident of `drift` (by no person: the reconcile saw it), its severity
    by the system's setting or risk tier, naming the observed and the recorded release."""
    environment = drift.environment
    system = environment.system
    recorded = drift.recorded_release.version
    incident = declare_incident(
        actor=None,
        system=system,
        environment=environment,
        title=shorten(
            f"Ungoverned change in {environment.name}: {drift.observed_label} live, "
            f"{recorded} recorded",
            NAME,
        ),
        severity=system.ungoverned_change_severity,
        category=Category.UNGOVERNED_CHANGE,
        source=Source.RECONCILE,
        summary=message,
        detected_at=drift.first_seen_at,
    )
    incident.drift = drift
    incident.save(update_fields=["drift"])
    record(
        incident,
        actor=None,
        kind=EntryKind.DRIFT,
        action="incident.drift_detected",
        body=(
            f"The backend of {environment.name} reports {drift.observed_label}; Failsafe "
            f"records {recorded}. ROLL BACK NOW puts {recorded} back."
        ),
        data={"drift": drift.pk, "event": "detected", "observed": drift.observed_version,
              "recorded": recorded},
        actor_name="reconcile",
    )  # fmt: skip
    return incident


def drift_link(drift: Drift) -> Link | None:
    """For drift notices: the incident's war room."""
    incident = Incident.objects.filter(drift=drift).only("pk").first()
    return Link("Open the war room", incident.get_absolute_url()) if incident else None

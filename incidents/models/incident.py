"""An incident: its lifecycle stage, severity, roles, immutable timeline, pins and the
rollbacks it asked for."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.urls import reverse

from governance.limits import COMMENT, NAME, PROSE, length_checks
from governance.models import AISystem
from governance.people import display_name
from incidents.art73 import harm_choices
from releases.models import Environment, Release, RollbackPlan, RollbackRequest


class Stage(models.TextChoices):
    """The lifecycle, in order. A stage passed over is recorded as skipped, not jumped silently."""

    DETECTED = "detected", "Detected"
    CONTAINMENT = "containment", "Containment"
    ROLLBACK = "rollback", "Rollback"
    RECOVERY = "recovery", "Recovery"
    REVIEW = "review", "Post-incident review"
    CLOSED = "closed", "Closed"


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1 · critical"
    SEV2 = "sev2", "SEV2 · high"
    SEV3 = "sev3", "SEV3 · medium"
    SEV4 = "sev4", "SEV4 · low"


class Category(models.TextChoices):
    PERFORMANCE = "performance", "Performance degradation"
    DRIFT = "drift", "Data or concept drift"
    PROMPT_INJECTION = "prompt_injection", "Security: prompt injection"
    DATA_POISONING = "data_poisoning", "Security: data poisoning"
    ADVERSARIAL = "adversarial", "Security: adversarial input"
    BIAS = "bias", "Ethics: bias"
    PII_LEAK = "pii_leak", "Compliance: PII leak"
    AVAILABILITY = "availability", "Availability"
    UNGOVERNED_CHANGE = "ungoverned_change", "Ungoverned change"


class Source(models.TextChoices):
    ALERT = "alert", "Alert"
    USER_REPORT = "user_report", "User report"
    INTERNAL_AUDIT = "internal_audit", "Internal audit"
    RECONCILE = "reconcile", "Drift reconcile"


class Incident(models.Model):
    """Something harmful or unexpected in production, run from its war room."""

    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="incidents")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    title = models.CharField(max_length=NAME)
    summary = models.TextField(max_length=COMMENT, blank=True)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    category = models.CharField(max_length=24, choices=Category.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DETECTED)
    skipped_stages = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set by the service that moves the stage; they feed the time-to-X metrics.
    detected_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Context captured at declaration, from the deployment history, never typed in.
    live_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    release_snapshot = models.JSONField(default=dict, blank=True)
    rollback_plan = models.ForeignKey(
        RollbackPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan_snapshot = models.JSONField(default=dict, blank=True)
    # The ungoverned change (releases/drift/) this incident was declared for: one per drift.
    drift = models.OneToOneField(
        "releases.Drift", null=True, blank=True, on_delete=models.PROTECT, related_name="incident"
    )
    # Alerts with this fingerprint join the incident while it is open.
    fingerprint = models.CharField(max_length=128, blank=True)
    # Alertmanager's group (the SHA-256 of its groupKey): every alert of the group joins the
    # incident while it is open (incidents.services.alerts).
    group_key = models.CharField(max_length=64, blank=True)
    # The alert token whose alert declared it; `is_storm`: it takes the alerts that would
    # have opened incidents beyond the token's rate (ALERT_NEW_INCIDENTS_PER_MINUTE).
    alert_token = models.ForeignKey(
        "AlertToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    is_storm = models.BooleanField(default=False)
    # EU AI Act Art. 73 serious incidents.
    is_serious = models.BooleanField(default=False)
    # Art. 3(49): every harm the incident led to (incidents/art73.yaml); several may apply.
    harm_categories = ArrayField(
        models.CharField(max_length=32, choices=harm_choices()), default=list, blank=True
    )
    involves_death = models.BooleanField(default=False)
    widespread_infringement = models.BooleanField(default=False)
    aware_at = models.DateTimeField(null=True, blank=True)
    initial_report_sent_at = models.DateTimeField(null=True, blank=True)
    complete_report_sent_at = models.DateTimeField(null=True, blank=True)
    # Art. 73(2), (4): the report is due immediately after the causal link with the AI system
    # was established, or its reasonable likelihood; the days are the outer limit.
    causal_link_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(fields=["system", "stage"], name="incident_system_stage"),
            models.Index(fields=["system", "fingerprint"], name="incident_fingerprint"),
            models.Index(
                fields=["system", "group_key"],
                condition=~Q(group_key=""),
                name="incident_alert_group",
            ),
            models.Index(
                fields=["alert_token"], condition=Q(is_storm=True), name="incident_alert_storm"
            ),
        ]
        constraints = length_checks("incident", {"summary": COMMENT})

    def __str__(self) -> str:
        return f"INC-{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:war-room", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.stage != Stage.CLOSED


class IncidentRoleKind(models.TextChoices):
    COMMANDER = "commander", "Incident commander"
    SCRIBE = "scribe", "Scribe"
    COMMUNICATIONS = "communications", "Communications"
    ML_LEAD = "ml_lead", "ML lead"
    RESPONDER = "responder", "Responder"

    @property
    def in_a_sentence(self) -> str:
        """As the timeline says it: "Ana is ML lead.", "Ana is a responder." """
        return _ROLE_PHRASES[self]


_ROLE_PHRASES = {
    IncidentRoleKind.COMMANDER: "incident commander",
    IncidentRoleKind.SCRIBE: "scribe",
    IncidentRoleKind.COMMUNICATIONS: "communications lead",
    IncidentRoleKind.ML_LEAD: "ML lead",
    IncidentRoleKind.RESPONDER: "a responder",
}


class IncidentRole(models.Model):
    """Who holds a role in this incident. A hand-over ends one row and starts another."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=IncidentRoleKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            # One commander, scribe, communications lead and ML lead at a time.
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=Q(ended_at__isnull=True) & ~Q(role="responder"),
                name="incidentrole_one_holder",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} of INC-{self.incident_id}"


class EntryKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    STAGE = "stage", "Stage"
    SEVERITY = "severity", "Severity"
    ROLE = "role", "Role"
    CONTAINMENT = "containment", "Containment"
    ALERT = "alert", "Alert"
    ROLLBACK = "rollback", "Rollback"
    NOTE = "note", "Note"
    STATUS_UPDATE = "status_update", "Status update"
    SERIOUS = "serious", "Serious-incident reporting"
    POSTMORTEM = "postmortem", "Post-mortem"
    DRIFT = "drift", "Ungoverned change"


class TimelineEntry(models.Model):
    """One thing that happened. Never edited or deleted (a trigger refuses it): a correction
    is a new entry."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    # Composed by the services from what people typed (a post is at most POST) and names.
    body = models.TextField(max_length=PROSE)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "id"], name="timeline_incident_id")]
        constraints = length_checks("timelineentry", {"body": PROSE})

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.body[:60]}"

    @property
    def actor_display(self) -> str:
        """Who made the entry, as people know them; a machine ("rollback worker") by the name
        the entry keeps. Load `actor` with the entries."""
        return display_name(self.actor) if self.actor is not None else self.actor_name


class Pin(models.Model):
    """A pinned timeline entry. Pinning is recorded beside the entry, which stays untouched."""

    entry = models.OneToOneField(TimelineEntry, on_delete=models.PROTECT, related_name="pin")
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    pinned_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pin of {self.entry_id}"


class IncidentRollback(models.Model):
    """A rollback asked for from an incident: its steps go to the incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="rollbacks")
    request = models.OneToOneField(
        RollbackRequest, on_delete=models.PROTECT, related_name="incident_link"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"rollback {self.request_id} of INC-{self.incident_id}"

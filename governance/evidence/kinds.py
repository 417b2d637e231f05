"""The kinds of evidence Failsafe produces: the vocabulary shared by the pack, the control
mapping and the coverage page. A new kind of record the app keeps gets a member here, a
mapping entry in `controls.yaml` and a section in the pack."""

from __future__ import annotations

from django.db import models


class EvidenceKind(models.TextChoices):
    SYSTEM_RECORD = "system_record", "AI system record (purpose, risk category)"
    ROLE_GRANT = "role_grant", "Role assignments"
    RELEASE = "release", "Releases with their decision stack and model card"
    GATE_CHECK = "gate_check", "Release gate checks"
    APPROVAL = "approval", "Release approvals"
    ROLLBACK_PLAN = "rollback_plan", "Rollback plans with owners and triggers"
    DEPLOYMENT = "deployment", "Deployment history"
    ROLLOUT_STEP = "rollout_step", "Progressive rollout steps"
    ALERT = "alert", "Monitoring alerts received"
    INCIDENT = "incident", "Incidents"
    TIMELINE_ENTRY = "timeline_entry", "Incident timelines"
    CONTAINMENT_ACTION = "containment_action", "Containment actions"
    ROLLBACK_REQUEST = "rollback_request", "Rollbacks"
    ROLLBACK_DRILL = "rollback_drill", "Rollback drills"
    FORENSIC_RECORD = "forensic_record", "Forensic records kept before a rollback"
    SERIOUS_INCIDENT_REPORT = "serious_incident_report", "Serious-incident reports"
    POSTMORTEM = "postmortem", "Post-mortems"
    ACTION_ITEM = "action_item", "Post-mortem action items"
    AUDIT_EVENT = "audit_event", "Audit trail (hash-chained)"

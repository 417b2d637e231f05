"""The roles a person can hold on an AI system, and the object permissions each one grants.

This is the only table that says which role may do what; everything else asks
`governance.permissions`, which reads the permissions these roles put in place.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "System owner"
    RELEASE_MANAGER = "release_manager", "Release manager"
    MODEL_OWNER = "model_owner", "Model owner"
    ROLLBACK_OWNER = "rollback_owner", "Rollback owner"
    ONCALL_LEAD = "oncall_lead", "On-call lead"
    RESPONDER = "responder", "Responder"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    VIEWER = "viewer", "Viewer"


class Action(models.TextChoices):
    """Object permissions on an AI system (codenames on `AISystem`)."""

    VIEW = "view_aisystem", "See the system and everything in it"
    CHANGE = "change_aisystem", "Edit the inventory entry"
    MANAGE_ROLES = "manage_roles", "Grant and revoke roles"
    VIEW_AUDIT = "view_audit", "Read the audit trail"
    REGISTER_RELEASE = "register_release", "Register releases and record gate evidence"
    APPROVE_RELEASE = "approve_release", "Approve, reject or send back releases"
    PROMOTE_RELEASE = "promote_release", "Move approved releases through the rollout stages"
    REQUEST_ROLLBACK = "request_rollback", "Press ROLL BACK NOW and confirm proposed rollbacks"
    LEAD_INCIDENT = "lead_incident", "Declare and command incidents"
    RESPOND_INCIDENT = "respond_incident", "Add notes and take containment actions"
    EXPORT_EVIDENCE = "export_evidence", "Export signed evidence packs"


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(
        {Action.VIEW, Action.CHANGE, Action.MANAGE_ROLES, Action.VIEW_AUDIT, Action.EXPORT_EVIDENCE}
    ),
    Role.RELEASE_MANAGER: frozenset(
        {Action.VIEW, Action.APPROVE_RELEASE, Action.PROMOTE_RELEASE, Action.VIEW_AUDIT}
    ),
    Role.MODEL_OWNER: frozenset({Action.VIEW, Action.REGISTER_RELEASE, Action.PROMOTE_RELEASE}),
    Role.ROLLBACK_OWNER: frozenset({Action.VIEW, Action.REQUEST_ROLLBACK}),
    Role.ONCALL_LEAD: frozenset(
        {
            Action.VIEW,
            Action.LEAD_INCIDENT,
            Action.RESPOND_INCIDENT,
            Action.REQUEST_ROLLBACK,
            Action.VIEW_AUDIT,
        }
    ),
    Role.RESPONDER: frozenset({Action.VIEW, Action.RESPOND_INCIDENT}),
    Role.COMPLIANCE_OFFICER: frozenset({Action.VIEW, Action.VIEW_AUDIT, Action.EXPORT_EVIDENCE}),
    Role.VIEWER: frozenset({Action.VIEW}),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.OWNER: "Edits the inventory entry and decides who holds which role.",
    Role.RELEASE_MANAGER: "Approves, rejects or sends back releases (never their own); promotes.",
    Role.MODEL_OWNER: "Registers releases, records gate evidence, writes rollback plans, promotes.",
    Role.ROLLBACK_OWNER: "Confirms proposed rollbacks and may roll back directly.",
    Role.ONCALL_LEAD: "Declares and commands incidents; may roll back.",
    Role.RESPONDER: "Adds timeline notes and takes containment actions.",
    Role.COMPLIANCE_OFFICER: "Reads the audit trail and exports evidence packs.",
    Role.VIEWER: "Sees the system, its releases and incidents.",
}


def actions_for(roles: set[str] | frozenset[str]) -> frozenset[Action]:
    granted: set[Action] = set()
    for role in roles:
        granted |= ROLE_ACTIONS[Role(role)]
    return frozenset(granted)


def roles_that_may(action: Action) -> list[Role]:
    """The roles that grant `action`, in the table's order (to tell a person whom to ask)."""
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]

"""Incidents (incident: the lifecycle, roles, the immutable timeline, pins and the rollbacks
linked), what the war room does and sends (response: containment, notices to authorities and
operators), alerts with their tokens (alerts), and post-mortems with their action items
(postmortem). Imported from here: `from incidents.models import Incident`."""

from incidents.models.alerts import (
    TEST_SOURCE,
    Alert,
    AlertStatus,
    AlertToken,
)
from incidents.models.chat import SlackDelivery, SlackMessage
from incidents.models.incident import (
    Category,
    EntryKind,
    Incident,
    IncidentRole,
    IncidentRoleKind,
    IncidentRollback,
    Pin,
    Severity,
    Source,
    Stage,
    TimelineEntry,
)
from incidents.models.paging import Page, PageStatus
from incidents.models.postmortem import (
    POSTMORTEM_SECTIONS,
    ActionItem,
    ActionItemStatus,
    PostMortem,
)
from incidents.models.response import (
    AuthorityNotification,
    ContainmentAction,
    ContainmentKind,
    ContainmentStatus,
    Hotfix,
    OperatorNotice,
    SentNotice,
)

__all__ = [
    "POSTMORTEM_SECTIONS",
    "TEST_SOURCE",
    "ActionItem",
    "ActionItemStatus",
    "Alert",
    "AlertStatus",
    "AlertToken",
    "AuthorityNotification",
    "Category",
    "ContainmentAction",
    "ContainmentKind",
    "ContainmentStatus",
    "EntryKind",
    "Hotfix",
    "Incident",
    "IncidentRole",
    "IncidentRoleKind",
    "IncidentRollback",
    "OperatorNotice",
    "Page",
    "PageStatus",
    "Pin",
    "PostMortem",
    "SentNotice",
    "Severity",
    "SlackDelivery",
    "SlackMessage",
    "Source",
    "Stage",
    "TimelineEntry",
]

"""Every state change of incidents. Views, the API, the alert endpoint and tasks call these."""

from incidents.services.alerts import (
    AlertPayloadError,
    AlertPayloadTooLarge,
    check_size,
    check_text,
    ingest_alert,
    parse_alertmanager,
    parse_generic,
    receive_alert,
    receive_alerts,
)
from incidents.services.containment import pin_entry, request_containment, set_containment_status
from incidents.services.hotfixes import cite_hotfix
from incidents.services.lifecycle import (
    assign_role,
    change_severity,
    declare_incident,
    move_stage,
    post_update,
    release_role,
)
from incidents.services.postmortem import (
    add_action_item,
    publish_postmortem,
    save_postmortem,
    update_action_item,
)
from incidents.services.reporting import (
    classify_serious,
    record_causal_link,
    record_operator_notice,
    record_report_sent,
)
from incidents.services.rollback import roll_back_incident

__all__ = [
    "AlertPayloadError",
    "AlertPayloadTooLarge",
    "add_action_item",
    "assign_role",
    "change_severity",
    "check_size",
    "check_text",
    "cite_hotfix",
    "classify_serious",
    "declare_incident",
    "ingest_alert",
    "move_stage",
    "parse_alertmanager",
    "parse_generic",
    "pin_entry",
    "post_update",
    "publish_postmortem",
    "receive_alert",
    "receive_alerts",
    "record_causal_link",
    "record_operator_notice",
    "record_report_sent",
    "release_role",
    "request_containment",
    "roll_back_incident",
    "save_postmortem",
    "set_containment_status",
    "update_action_item",
]

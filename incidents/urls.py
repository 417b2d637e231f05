from django.urls import path

from incidents.views import (
    action_items,
    alert_tokens,
    dashboard,
    postmortem,
    war_room,
    war_room_actions,
)

app_name = "incidents"

urlpatterns = [
    path("incidents/", war_room.incident_list, name="incident-list"),
    path("incidents/declare/", war_room.declare, name="declare"),
    path("incidents/dashboard/", dashboard.dashboard, name="dashboard"),
    path("incidents/<int:pk>/", war_room.war_room, name="war-room"),
    path("incidents/<int:pk>/live/", war_room.live, name="live"),
    path("incidents/background/", war_room.background_status, name="background-status"),
    path("incidents/<int:pk>/timeline/", war_room.earlier_entries, name="timeline"),
    path("incidents/<int:pk>/stage/", war_room_actions.stage_move, name="stage-move"),
    path("incidents/<int:pk>/severity/", war_room_actions.severity_change, name="severity-change"),
    path("incidents/<int:pk>/roles/", war_room_actions.role_assign, name="role-assign"),
    path(
        "incidents/<int:pk>/roles/<int:assignment_id>/end/",
        war_room_actions.role_release,
        name="role-release",
    ),
    path("incidents/<int:pk>/posts/", war_room_actions.post_create, name="post-create"),
    path(
        "incidents/<int:pk>/entries/<int:entry_id>/pin/",
        war_room_actions.entry_pin,
        name="entry-pin",
    ),
    path(
        "incidents/<int:pk>/containment/",
        war_room_actions.containment_create,
        name="containment-create",
    ),
    path(
        "incidents/<int:pk>/containment/<int:action_id>/status/",
        war_room_actions.containment_status,
        name="containment-status",
    ),
    path("incidents/<int:pk>/rollback/", war_room_actions.rollback_now, name="rollback-now"),
    path("incidents/<int:pk>/hotfixes/", war_room_actions.hotfix_cite, name="hotfix-cite"),
    path("incidents/<int:pk>/drift/adopt/", war_room_actions.drift_adopt, name="drift-adopt"),
    path(
        "incidents/<int:pk>/rollback/<int:request_id>/",
        war_room_actions.rollback_decide,
        name="rollback-decide",
    ),
    path("incidents/<int:pk>/serious/", war_room_actions.serious_classify, name="serious-classify"),
    path("incidents/<int:pk>/reports/", war_room_actions.report_sent, name="report-sent"),
    path("incidents/<int:pk>/causal-link/", war_room_actions.causal_link, name="causal-link"),
    path(
        "incidents/<int:pk>/operator-notices/",
        war_room_actions.operator_notice,
        name="operator-notice",
    ),
    path("incidents/<int:pk>/postmortem/", postmortem.postmortem_page, name="postmortem"),
    path(
        "incidents/<int:pk>/postmortem/publish/",
        postmortem.postmortem_publish,
        name="postmortem-publish",
    ),
    path(
        "incidents/<int:pk>/action-items/", postmortem.action_item_create, name="action-item-create"
    ),
    path(
        "incidents/<int:pk>/action-items/<int:item_id>/",
        postmortem.action_item_update,
        name="action-item-update",
    ),
    path("action-items/", action_items.action_item_list, name="action-items"),
    path("systems/<slug:slug>/alert-tokens/", alert_tokens.token_list, name="alert-tokens"),
    path(
        "systems/<slug:slug>/alert-tokens/new/",
        alert_tokens.token_create,
        name="alert-token-create",
    ),
    path(
        "systems/<slug:slug>/alert-tokens/<int:token_id>/revoke/",
        alert_tokens.token_revoke,
        name="alert-token-revoke",
    ),
    path(
        "systems/<slug:slug>/alert-tokens/test/",
        alert_tokens.test_alert_send,
        name="alert-test-send",
    ),
]

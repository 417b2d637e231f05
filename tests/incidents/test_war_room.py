"""The incident list, declaring, and the war room: role-aware controls, actions through the
services, live updates by polling, and a query count that does not grow with the timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import (
    ContainmentAction,
    EntryKind,
    Incident,
    IncidentRole,
    Stage,
    TimelineEntry,
)
from tests.incidents.war_room_pages import poll_url

pytestmark = pytest.mark.django_db


def war_room(client, incident):  # type: ignore[no-untyped-def]
    return client.get(incident.get_absolute_url())


def bulk_entries(incident, count: int) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident=incident,
            kind=EntryKind.NOTE,
            occurred_at=now,
            actor_name="monitoring",
            body=f"Observation {n}",
        )
        for n in range(count)
    )


# --- list and declaration ---------------------------------------------------------------


def test_an_oncall_lead_declares_from_the_page_and_commands(
    client, oncall_lead, fraud, production, live_release
):
    client.force_login(oncall_lead)
    response = client.post(
        "/incidents/declare/",
        {
            "system": fraud.pk,
            "environment": production.pk,
            "title": "Approval rate dropped 40 %",
            "severity": "sev1",
            "category": "drift",
            "source": "user_report",
            "summary": "Merchants call in.",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    assert incident.live_release == live_release
    page = client.get(response["Location"])
    assert b"INC-%d declared" % incident.pk in page.content
    assert live_release.version.encode() in page.content
    assert b"Move to Containment" in page.content


def test_declaring_with_bad_input_changes_nothing(client, oncall_lead, fraud):
    client.force_login(oncall_lead)
    response = client.post(
        "/incidents/declare/", {"system": fraud.pk, "title": " ", "severity": "sev9"}
    )
    assert response.status_code == 400
    assert Incident.objects.count() == 0
    assert b"Select a valid choice" in response.content


def test_only_oncall_leads_may_declare(client, responder):
    client.force_login(responder)
    assert client.get("/incidents/declare/").status_code == 403


def test_the_list_puts_open_incidents_first_and_filters(client, viewer, incident, oncall_lead):
    closed = services.declare_incident(
        actor=oncall_lead, system=incident.system, title="Old", severity="sev1", category="bias"
    )
    Incident.objects.filter(pk=closed.pk).update(stage=Stage.CLOSED, closed_at=timezone.now())
    client.force_login(viewer)
    page = client.get("/incidents/")
    assert b"Review rate tripled" in page.content
    assert b"Old" not in page.content  # open ones by default
    everything = client.get("/incidents/?state=").content
    assert everything.index(b"Review rate tripled") < everything.index(b"Old")
    assert b"Review rate tripled" not in client.get("/incidents/?state=closed").content
    assert client.get("/incidents/?severity=sev9").status_code == 400


def test_an_outsider_sees_no_incident_of_a_system_they_hold_no_role_on(client, outsider, incident):
    client.force_login(outsider)
    assert b"Review rate tripled" not in client.get("/incidents/?state=").content
    assert war_room(client, incident).status_code == 404
    assert client.get(f"/incidents/{incident.pk}/live/?v=x&after=0").status_code == 404


# --- role-aware controls ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "stage_button", "post_form", "containment_form"),
    [
        ("oncall_lead", True, True, True),
        ("responder", False, True, True),
        ("viewer", False, False, False),
        ("release_manager", False, False, False),
    ],
)
def test_controls_follow_the_role(  # type: ignore[no-untyped-def]
    client, request, incident, persona, stage_button, post_form, containment_form
):
    client.force_login(request.getfixturevalue(persona))
    page = war_room(client, incident)
    assert page.status_code == 200
    assert (b"Move to Containment" in page.content) is stage_button
    assert (b'name="body"' in page.content) is post_form
    assert (b"Request containment" in page.content) is containment_form


def test_the_live_release_and_the_rollback_target_side_by_side(
    client, oncall_lead, incident, live_release
):
    client.force_login(oncall_lead)
    page = war_room(client, incident).content.decode()
    assert "Live at declaration" in page and "Rollback target" in page
    assert live_release.version in page


def test_the_plan_in_force_names_its_owners_as_people_know_them(
    client, oncall_lead, incident, rollback_owner
):
    assert incident.plan_snapshot["owners"] == [rollback_owner.username]  # kept as usernames
    client.force_login(oncall_lead)
    page = war_room(client, incident).content.decode()
    assert f"owners {rollback_owner.get_full_name()}</span>" in page


# --- actions ------------------------------------------------------------------------------


def test_moving_through_every_stage_from_the_page(client, oncall_lead, incident):
    client.force_login(oncall_lead)
    for stage in ("containment", "rollback", "recovery", "review"):
        response = client.post(f"/incidents/{incident.pk}/stage/", {"stage": stage})
        assert response.status_code == 302, response.content[:300]
    incident.refresh_from_db()
    assert incident.stage == Stage.REVIEW
    assert incident.contained_at and incident.rolled_back_at and incident.recovered_at
    assert b"Write and publish the post-mortem" in war_room(client, incident).content


def test_a_skip_is_recorded_and_a_reopen_needs_a_reason(client, oncall_lead, incident):
    client.force_login(oncall_lead)
    client.post(f"/incidents/{incident.pk}/stage/", {"stage": "review", "reason": "Flapping"})
    incident.refresh_from_db()
    assert incident.skipped_stages == ["containment", "rollback", "recovery"]
    response = client.post(f"/incidents/{incident.pk}/stage/", {"stage": "containment"})
    assert response.status_code == 400
    assert b"Say why the incident is reopened" in response.content
    incident.refresh_from_db()
    assert incident.stage == Stage.REVIEW


def test_a_responder_may_note_but_not_post_status_nor_move_stages(client, responder, incident):
    client.force_login(responder)
    ok = client.post(f"/incidents/{incident.pk}/posts/", {"body": "p95 at 900 ms", "kind": "note"})
    assert ok.status_code == 302
    refused = client.post(
        f"/incidents/{incident.pk}/posts/", {"body": "All clear", "kind": "status_update"}
    )
    assert refused.status_code == 403
    assert client.post(f"/incidents/{incident.pk}/stage/", {"stage": "rollback"}).status_code == 403
    bodies = list(incident.timeline.values_list("body", flat=True))
    assert "p95 at 900 ms" in bodies and "All clear" not in bodies


def test_the_scribe_posts_status_updates(client, oncall_lead, responder, incident):
    services.assign_role(actor=oncall_lead, incident=incident, role="scribe", user=responder)
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/posts/", {"body": "Mitigated", "kind": "status_update"}
    )
    assert response.status_code == 302
    assert incident.timeline.filter(kind=EntryKind.STATUS_UPDATE, body="Mitigated").exists()


def test_roles_are_assigned_and_ended_from_the_page(client, oncall_lead, responder, incident):
    client.force_login(oncall_lead)
    response = client.post(
        f"/incidents/{incident.pk}/roles/", {"role": "ml_lead", "user": responder.pk}
    )
    assert response.status_code == 302
    assignment = IncidentRole.objects.get(incident=incident, role="ml_lead")
    response = client.post(f"/incidents/{incident.pk}/roles/{assignment.pk}/end/")
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    name = responder.get_full_name()
    bodies = list(incident.timeline.filter(kind=EntryKind.ROLE).values_list("body", flat=True))
    assert f"{name} is ML lead." in bodies and f"{name} stepped down as ML lead." in bodies


def test_assigning_someone_without_a_role_on_the_system_is_refused(
    client, oncall_lead, outsider, incident
):
    client.force_login(oncall_lead)
    response = client.post(
        f"/incidents/{incident.pk}/roles/", {"role": "scribe", "user": outsider.pk}
    )
    assert response.status_code == 400
    assert not IncidentRole.objects.filter(incident=incident, role="scribe").exists()


def test_containment_is_requested_and_done_from_the_page(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/containment/",
        {"kind": "route_fallback", "target": "fraud-model-v1-fallback"},
    )
    assert response.status_code == 302
    action = ContainmentAction.objects.get(incident=incident)
    client.post(f"/incidents/{incident.pk}/containment/{action.pk}/status/", {"status": "done"})
    action.refresh_from_db()
    assert action.status == "done" and action.done_by == responder
    again = client.post(
        f"/incidents/{incident.pk}/containment/{action.pk}/status/", {"status": "done"}
    )
    assert again.status_code == 400


def test_pinning_an_entry_shows_it_in_the_pinned_panel(client, responder, incident):
    client.force_login(responder)
    entry = incident.timeline.get(kind=EntryKind.DECLARED)
    assert client.post(f"/incidents/{incident.pk}/entries/{entry.pk}/pin/").status_code == 302
    page = war_room(client, incident).content.decode()
    pinned = page.split('id="incident-pinned"', 1)[1].split("</div>", 1)[0]
    assert entry.body[:40] in pinned
    assert f"{entry.actor.get_full_name()} · " in pinned  # the declarer, as people know them


def test_the_reporting_clock_after_classifying_serious(client, oncall_lead, incident):
    client.force_login(oncall_lead)
    response = client.post(
        f"/incidents/{incident.pk}/serious/",
        {"harm_categories": ["critical_infrastructure"], "aware_at": "2020-01-01T08:00"},
    )
    assert response.status_code == 302
    page = war_room(client, incident).content.decode()
    assert "Art. 73(3)" in page and "Overdue" in page
    assert "Art. 73 applies from 2 Aug 2026 to the Regulation in general" in page  # Art. 113
    response = client.post(f"/incidents/{incident.pk}/reports/", {"complete": "false"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.initial_report_sent_at is not None


def test_an_awareness_typed_without_a_zone_is_read_in_the_organisations(
    client, oncall_lead, incident, settings
):
    settings.ORGANISATION_TIME_ZONE = "Europe/Brussels"
    client.force_login(oncall_lead)
    assert (
        "Aware since (Europe/Brussels; empty: now)" in war_room(client, incident).content.decode()
    )
    response = client.post(
        f"/incidents/{incident.pk}/serious/",
        {"harm_categories": ["fundamental_rights"], "aware_at": "2020-07-01T08:00"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.aware_at == datetime(2020, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    entry = incident.timeline.get(body__startswith="Classified serious")
    assert "2020-07-16 06:00 UTC" in entry.body  # 15 days x 24 h: the earlier reading


def test_a_future_awareness_is_refused_and_changes_nothing(client, oncall_lead, incident):
    client.force_login(oncall_lead)
    response = client.post(
        f"/incidents/{incident.pk}/serious/",
        {"harm_categories": ["fundamental_rights"], "aware_at": "2999-01-01T00:00"},
    )
    assert response.status_code == 400
    assert b"Awareness cannot be in the future" in response.content
    incident.refresh_from_db()
    assert not incident.is_serious


# --- live updates -------------------------------------------------------------------------


def test_the_poll_is_an_empty_204_until_something_changes(client, responder, oncall_lead, incident):
    client.force_login(responder)
    page = war_room(client, incident)
    url = poll_url(page)
    with CaptureQueriesContext(connection) as captured:
        quiet = client.get(url)
    assert quiet.status_code == 204
    assert len(captured) == 3  # session, user, version

    services.post_update(
        actor=oncall_lead, incident=incident, body="Rolling back to 1.0", kind="status_update"
    )
    changed = client.get(url)
    assert changed.status_code == 200
    body = changed.content.decode()
    assert "Rolling back to 1.0" in body
    assert 'hx-swap-oob="afterbegin:#timeline-entries"' in body
    assert 'id="incident-status" ' in body and 'hx-swap-oob="true"' in body
    # The fresh poller asks for what came after the newest entry, with a new token.
    next_url = re.search(r'id="live" hx-get="([^"]+)"', body).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert next_url != url
    assert client.get(next_url).status_code == 204


def test_the_poll_returns_only_entries_the_page_lacks(client, responder, oncall_lead, incident):
    client.force_login(responder)
    url = poll_url(war_room(client, incident))
    services.post_update(
        actor=oncall_lead, incident=incident, body="Observation alpha", kind="note"
    )
    services.post_update(actor=oncall_lead, incident=incident, body="Observation beta", kind="note")
    body = client.get(url).content.decode()
    assert body.index("Observation beta") < body.index(
        "Observation alpha"
    )  # newest first, as on the page
    assert "Declared" not in body.split("afterbegin:#timeline-entries", 1)[1]


def test_a_poll_with_a_bad_position_is_400(client, responder, incident):
    client.force_login(responder)
    assert client.get(f"/incidents/{incident.pk}/live/?v=x&after=abc").status_code == 400
    assert client.get(f"/incidents/{incident.pk}/timeline/?before=-1").status_code == 400


def test_earlier_entries_load_on_demand(client, responder, incident):
    bulk_entries(incident, 150)
    client.force_login(responder)
    page = war_room(client, incident).content.decode()
    assert "Observation 149" in page and "Observation 40" not in page
    more = re.search(r'hx-get="(/incidents/\d+/timeline/\?before=\d+)"', page).group(1)  # type: ignore[union-attr]
    earlier = client.get(more).content.decode()
    assert "Observation 40" in earlier and "Declared" in earlier
    assert "Show earlier" not in earlier


# --- query counts -----------------------------------------------------------------------


def count_queries(client, path: str) -> int:  # type: ignore[no-untyped-def]
    client.get(path)
    caches["pages"].clear()  # a render, not a cached copy
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_the_war_room_costs_the_same_with_10_and_1000_timeline_entries(
    client, oncall_lead, responder, incident
):
    services.assign_role(actor=oncall_lead, incident=incident, role="scribe", user=responder)
    services.request_containment(
        actor=responder, incident=incident, kind="disable_feature", target="velocity"
    )
    client.force_login(oncall_lead)
    bulk_entries(incident, 10)
    path = incident.get_absolute_url()
    few = count_queries(client, path)
    live_few = count_queries(client, f"{path}live/?v=stale&after=0")
    bulk_entries(incident, 990)
    for entry in incident.timeline.order_by("-id")[:5]:
        services.pin_entry(actor=responder, entry=entry)
    assert count_queries(client, path) == few
    assert count_queries(client, f"{path}live/?v=stale&after=0") == live_few


def test_the_war_room_is_served_from_the_page_cache_until_something_changes(
    client, responder, oncall_lead, incident
):
    client.force_login(responder)
    war_room(client, incident)
    assert war_room(client, incident)["X-Page-Cache"] in ("miss", "hit")
    assert war_room(client, incident)["X-Page-Cache"] == "hit"
    services.post_update(actor=oncall_lead, incident=incident, body="New fact", kind="note")
    page = war_room(client, incident)
    assert page["X-Page-Cache"] == "miss"
    assert b"New fact" in page.content


def test_who_may_not_act_is_refused_before_their_input_is_read(client, viewer, incident):
    client.force_login(viewer)
    assert client.post(f"/incidents/{incident.pk}/stage/", {"stage": "nonsense"}).status_code == 403
    assert client.post(f"/incidents/{incident.pk}/containment/", {}).status_code == 403

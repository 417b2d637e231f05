"""The post-mortem page: writing the review, its action items, and publishing it."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import AuditEvent
from incidents import services
from incidents.models import ActionItem, Incident, PostMortem, Stage
from tests.factories import UserFactory
from tests.matrix import LEADS, RESPONDERS, SEERS, Route
from tests.worlds.postmortem import POSTMORTEM

FORM = {
    "summary": "",
    "impact": "",
    "root_cause_code": "",
    "root_cause_model": "",
    "root_cause_data": "",
    "contributing_factors": "",
    "detection_gaps": "",
    "went_well": "",
    "went_badly": "",
}


def page(incident) -> str:  # type: ignore[no-untyped-def]
    return f"/incidents/{incident.pk}/postmortem/"


def alert_text(response) -> str:  # type: ignore[no-untyped-def]
    """The text of the page's role=alert blocks: where refusals are said."""
    html = response.content.decode()
    blocks = re.findall(r'<div class="form-errors[^"]*"[^>]*role="alert">(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", block) for block in blocks)


@pytest.fixture
def in_review(incident, oncall_lead, responder):
    """The incident in review with a complete post-mortem: publishable but for action items."""
    services.move_stage(actor=oncall_lead, incident=incident, stage="review")
    services.save_postmortem(actor=responder, incident=incident, **POSTMORTEM)
    incident.refresh_from_db()
    return incident


# ---- the review ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_form_and_a_timeline_excerpt_of_pins_and_stage_changes(
    client, incident, oncall_lead, responder
):
    pinned = services.post_update(actor=responder, incident=incident, body="Calibration is off.")
    services.pin_entry(actor=responder, entry=pinned)
    services.post_update(actor=responder, incident=incident, body="Still looking at dashboards.")
    services.move_stage(actor=oncall_lead, incident=incident, stage="containment")
    client.force_login(responder)
    response = client.get(page(incident))
    assert response.status_code == 200
    html = response.content.decode()
    for name in FORM:
        assert f'name="{name}"' in html
    assert "Calibration is off." in html
    assert "Moved to Containment." in html
    assert "Still looking at dashboards." not in html  # neither pinned nor a stage change
    # Who made each entry, as people know them (the entry keeps the username).
    actors = re.findall(
        r'<div class="pm-entry-meta">.*?<span class="muted small">([^<]*)</span>', html
    )
    assert set(actors) >= {responder.get_full_name(), oncall_lead.get_full_name()}
    assert responder.username not in actors


@pytest.mark.django_db
def test_saving_writes_the_review_through_the_service(client, incident, responder):
    client.force_login(responder)
    response = client.post(page(incident), {**FORM, **POSTMORTEM, "summary": "  Unit mismatch. "})
    assert response.status_code == 302
    assert response["Location"] == page(incident)
    postmortem = PostMortem.objects.get(incident=incident)
    assert postmortem.summary == "Unit mismatch."
    assert postmortem.detection_gaps == POSTMORTEM["detection_gaps"]
    assert AuditEvent.objects.filter(action="postmortem.saved").count() == 1
    assert "Post-mortem saved." in client.get(page(incident)).content.decode()


@pytest.mark.django_db
def test_bad_input_is_a_400_with_the_error_shown_and_nothing_saved(client, incident, responder):
    services.save_postmortem(actor=responder, incident=incident, summary="Kept.")
    client.force_login(responder)
    response = client.post(page(incident), {**FORM, "summary": "x" * 20_001, "impact": "new"})
    assert response.status_code == 400
    assert "at most 20000 characters" in response.content.decode()
    postmortem = PostMortem.objects.get(incident=incident)
    assert (postmortem.summary, postmortem.impact) == ("Kept.", "")


@pytest.mark.django_db
def test_viewers_read_the_review_but_may_not_write_it(client, incident, responder, viewer):
    services.save_postmortem(actor=responder, incident=incident, summary="Unit mismatch.")
    client.force_login(viewer)
    response = client.get(page(incident))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unit mismatch." in html
    assert 'name="summary"' not in html and 'name="title"' not in html
    assert client.post(page(incident), {**FORM, "summary": "mine now"}).status_code == 403
    assert PostMortem.objects.get(incident=incident).summary == "Unit mismatch."


@pytest.mark.django_db
def test_incidents_of_systems_one_cannot_see_do_not_exist(client, incident, outsider, other_system):
    hidden = services.declare_incident(
        actor=None, system=other_system, title="Hidden", severity="sev2", category="drift"
    )
    client.force_login(outsider)
    assert client.get(page(incident)).status_code == 404
    assert client.post(page(incident), FORM).status_code == 404
    assert client.get("/incidents/999999/postmortem/").status_code == 404
    client.force_login(UserFactory(username="nosy"))
    assert client.get(page(hidden)).status_code == 404
    assert not PostMortem.objects.exists()


# ---- publishing --------------------------------------------------------------------------


@pytest.mark.django_db
def test_publishing_is_refused_while_an_action_item_has_no_owner(
    client, in_review, oncall_lead, responder
):
    client.force_login(responder)
    added = client.post(
        f"/incidents/{in_review.pk}/action-items/", {"title": "Alert per channel", "owner": ""}
    )
    assert added.status_code == 302
    client.force_login(oncall_lead)
    response = client.post(f"/incidents/{in_review.pk}/postmortem/publish/")
    assert response.status_code == 400
    assert "1 action item has no owner." in alert_text(response)
    in_review.refresh_from_db()
    assert in_review.stage == Stage.REVIEW and in_review.closed_at is None
    assert PostMortem.objects.get(incident=in_review).published_at is None


@pytest.mark.django_db
def test_publishing_lists_what_the_review_lacks(client, incident, oncall_lead):
    client.force_login(oncall_lead)
    response = client.post(f"/incidents/{incident.pk}/postmortem/publish/")
    assert response.status_code == 400
    said = alert_text(response)
    assert "Write the post-mortem first." in said
    assert Incident.objects.get(pk=incident.pk).stage == Stage.DETECTED


@pytest.mark.django_db
def test_publishing_closes_the_incident_and_leaves_the_review_read_only(
    client, in_review, oncall_lead, responder
):
    item = services.add_action_item(actor=responder, incident=in_review, title="Alert per channel")
    client.force_login(responder)
    owned = client.post(
        f"/incidents/{in_review.pk}/action-items/{item.pk}/",
        {"owner": str(responder.pk), "due_date": "2031-01-31", "status": "open"},
    )
    assert owned.status_code == 302
    client.force_login(oncall_lead)
    response = client.post(f"/incidents/{in_review.pk}/postmortem/publish/")
    assert response.status_code == 302
    in_review.refresh_from_db()
    assert in_review.stage == Stage.CLOSED and in_review.closed_at is not None
    postmortem = PostMortem.objects.get(incident=in_review)
    assert postmortem.published_by == oncall_lead

    client.force_login(responder)
    html = client.get(page(in_review)).content.decode()
    assert "This review is published and read-only." in html
    assert 'name="summary"' not in html
    assert POSTMORTEM["summary"] in html
    refused = client.post(page(in_review), {**FORM, "summary": "rewritten"})
    assert refused.status_code == 400
    assert "The post-mortem is published" in alert_text(refused)
    assert PostMortem.objects.get(incident=in_review).summary == POSTMORTEM["summary"]
    # The action items still move after publishing: that is what they are tracked for.
    done = client.post(
        f"/incidents/{in_review.pk}/action-items/{item.pk}/",
        {"owner": str(responder.pk), "due_date": "2031-01-31", "status": "done"},
    )
    assert done.status_code == 302
    assert ActionItem.objects.get(pk=item.pk).status == "done"


@pytest.mark.django_db
def test_only_the_oncall_lead_publishes(client, in_review, responder):
    client.force_login(responder)
    assert client.post(f"/incidents/{in_review.pk}/postmortem/publish/").status_code == 403
    assert Incident.objects.get(pk=in_review.pk).stage == Stage.REVIEW


# ---- action items ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_action_item_gets_a_title_an_owner_and_a_due_date(client, incident, responder, viewer):
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/action-items/",
        {
            "title": "Calibrate before thresholding",
            "owner": str(viewer.pk),
            "due_date": "2031-03-01",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == page(incident) + "#action-items"
    item = ActionItem.objects.get(incident=incident)
    assert (item.title, item.owner, item.due_date) == (
        "Calibrate before thresholding",
        viewer,
        date(2031, 3, 1),
    )
    assert incident.timeline.filter(body__startswith="Action item: Calibrate").exists()


@pytest.mark.django_db
def test_owners_are_chosen_among_those_who_see_the_system(client, incident, responder, outsider):
    client.force_login(responder)
    html = client.get(page(incident)).content.decode()
    assert f'<option value="{responder.pk}"' in html
    assert f'<option value="{outsider.pk}"' not in html
    response = client.post(
        f"/incidents/{incident.pk}/action-items/", {"title": "t", "owner": str(outsider.pk)}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ActionItem.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "owner": ""}, "This field is required."),
        ({"title": "t", "due_date": "2031-02-30"}, "Enter a valid date."),
        ({"title": "t", "owner": "not-a-number"}, "Select a valid choice"),
    ],
)
def test_a_bad_action_item_is_a_400_and_adds_nothing(client, incident, responder, data, message):
    client.force_login(responder)
    response = client.post(f"/incidents/{incident.pk}/action-items/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ActionItem.objects.exists()


@pytest.mark.django_db
def test_htmx_gets_the_action_item_table_back_and_an_event_for_the_publish_panel(
    client, incident, responder
):
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/action-items/",
        {"title": "Alert per channel", "owner": str(responder.pk)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="action-items"' in html
    assert "<html" not in html and "Alert per channel" in html
    assert json.loads(response["HX-Trigger"]) == {"action-items-changed": {}}
    refused = client.post(
        f"/incidents/{incident.pk}/action-items/", {"title": ""}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
    assert "<html" not in refused.content.decode()
    assert "This field is required." in refused.content.decode()


@pytest.mark.django_db
def test_an_action_item_changes_status_owner_and_due_date(client, incident, responder, viewer):
    item = services.add_action_item(actor=responder, incident=incident, title="Alert per channel")
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/action-items/{item.pk}/",
        {"owner": str(viewer.pk), "due_date": "2031-05-01", "status": "in_progress"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="item-{item.pk}"' in response.content.decode()
    item.refresh_from_db()
    assert (item.owner, item.due_date, item.status) == (viewer, date(2031, 5, 1), "in_progress")


@pytest.mark.django_db
def test_a_bad_change_of_an_action_item_is_a_400_and_changes_nothing(
    client, incident, oncall_lead, responder
):
    item = services.add_action_item(
        actor=responder, incident=incident, title="Alert", owner=responder
    )
    client.force_login(responder)
    url = f"/incidents/{incident.pk}/action-items/{item.pk}/"
    response = client.post(url, {"owner": str(responder.pk), "status": "abandoned"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert ActionItem.objects.get(pk=item.pk).status == "open"
    other = services.declare_incident(
        actor=oncall_lead, system=incident.system, title="Other", severity="sev3", category="drift"
    )
    wrong_incident = f"/incidents/{other.pk}/action-items/{item.pk}/"
    assert client.post(wrong_incident, {"status": "done"}).status_code == 404


@pytest.mark.django_db
def test_overdue_action_items_are_marked(client, incident, responder):
    late = services.add_action_item(
        actor=responder,
        incident=incident,
        title="Late one",
        owner=responder,
        due_date=date.today() - timedelta(days=3),
    )
    services.add_action_item(
        actor=responder, incident=incident, title="Fine one", due_date=date.today() + timedelta(7)
    )
    client.force_login(responder)
    html = client.get(page(incident)).content.decode()
    row = re.search(rf'<tr id="item-{late.pk}" class="([^"]*)"', html)
    assert row is not None and "is-overdue" in row.group(1)
    assert html.count("is-overdue") == 1
    assert "3\xa0days overdue" in html  # timesince keeps number and unit together


# ---- cost ------------------------------------------------------------------------------


def count_queries(client, path: str) -> int:  # type: ignore[no-untyped-def]
    client.get(path)
    caches["pages"].clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
def test_the_page_costs_the_same_with_2_and_25_items_and_pins(client, incident, responder):
    def grow(n: int) -> None:
        for i in range(n):
            entry = services.post_update(actor=responder, incident=incident, body=f"note {i}")
            services.pin_entry(actor=responder, entry=entry)
            services.add_action_item(
                actor=responder, incident=incident, title=f"item {i}", owner=responder
            )

    client.force_login(responder)
    grow(2)
    few = count_queries(client, page(incident))
    grow(23)
    many = count_queries(client, page(incident))
    assert many == few


# ---- who may do what ---------------------------------------------------------------------

# The role matrix calls these in `postmortem_world` (tests/worlds/postmortem.py).
ROUTES = [
    Route("post-mortem page", "GET", "/incidents/{incident}/postmortem/", SEERS),
    Route(
        "save the post-mortem",
        "POST",
        "/incidents/{incident}/postmortem/",
        RESPONDERS,
        ok=302,
        data={**FORM, **POSTMORTEM},
    ),
    Route("publish", "POST", "/incidents/{ready}/postmortem/publish/", LEADS, ok=302),
    Route(
        "add an action item",
        "POST",
        "/incidents/{incident}/action-items/",
        RESPONDERS,
        ok=302,
        data={"title": "Alert per channel", "owner": "@responder", "due_date": "2031-01-01"},
    ),
    Route(
        "change an action item",
        "POST",
        "/incidents/{incident}/action-items/{item}/",
        RESPONDERS,
        ok=302,
        data={"owner": "@viewer", "due_date": "", "status": "in_progress"},
    ),
]

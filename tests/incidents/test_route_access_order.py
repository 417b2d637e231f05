"""Every incident route checks access before it reads anything else: someone with no role on
the system gets 404 whatever parameters they send, for an incident that exists as for one
that does not (a 400 for one and a 404 for the other would say which ids exist).

The routes are walked from the URL configuration, so a route added later is walked too."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from incidents import services

MISSING = 987654321
# Parameters no route accepts: a bad poll token and positions, choices that do not exist,
# a number where text goes and text where a number goes.
BAD_QUERY = "?v=x&after=abc&before=-1&page=abc&state=banana&system=-1"
BAD_FORM = {
    "stage": "nowhere",
    "severity": "sev9",
    "role": "king",
    "user": "nobody",
    "kind": "spell",
    "status": "maybe",
    "decision": "perhaps",
    "harm_categories": "x" * 5000,
    "complete": "banana",
    "due_date": "2026-13-45",
    "owner": "abc",
    "name": "",
}


def incident_routes() -> list[tuple[str, str]]:
    """(name, route) of every page of the incidents app that names an object in its path."""
    (resolver,) = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "incidents"
    ]
    return [
        (str(p.name), str(p.pattern))
        for p in resolver.url_patterns
        if isinstance(p, URLPattern) and "<" in str(p.pattern)
    ]


def test_the_walk_finds_the_routes_it_means_to():
    names = {name for name, _ in incident_routes()}
    assert {"war-room", "live", "timeline", "postmortem", "action-item-update"} <= names
    assert {"alert-tokens", "rollback-decide", "containment-status"} <= names


def _path(route: str, ids: dict[str, Any]) -> str:
    path = "/" + route
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<slug:{name}>", str(value))
    assert "<" not in path, f"no value for a parameter of {route}"
    return path


@pytest.fixture
def existing(oncall_lead, responder, incident, fraud) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Ids of objects that exist, all of the outsider's unseen system."""
    containment = services.request_containment(
        actor=responder, incident=incident, kind="block_rule", target="ignore previous"
    )
    item = services.add_action_item(actor=oncall_lead, incident=incident, title="Alert on drift")
    return {
        "pk": incident.pk,
        "assignment_id": incident.roles.get().pk,
        "entry_id": incident.timeline.order_by("id").first().pk,  # type: ignore[union-attr]
        "action_id": containment.pk,
        "request_id": MISSING,  # no rollback: the incident's existence is what is asked
        "item_id": item.pk,
        "token_id": MISSING,
        "slug": fraud.slug,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), incident_routes())
def test_an_outsider_gets_404_for_an_existing_object_as_for_a_missing_one(
    client, outsider, existing, name, route
):
    missing = {key: MISSING for key in existing} | {"slug": "no-such-system"}
    client.force_login(outsider)
    answers = {}
    for method in ("GET", "POST"):
        for which, ids in (("existing", existing), ("missing", missing)):
            path = _path(route, ids)
            if method == "GET":
                response = client.get(path + BAD_QUERY, headers={"HX-Request": "true"})
            else:
                response = client.post(path + BAD_QUERY, BAD_FORM, headers={"HX-Request": "true"})
            answers[method, which] = response.status_code
    for method in ("GET", "POST"):
        assert answers[method, "existing"] == answers[method, "missing"], (name, answers)
        assert answers[method, "existing"] in (404, 405), (name, answers)  # 405: not its method
    assert 404 in answers.values(), (name, answers)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), incident_routes())
def test_a_nul_gets_the_same_answer_for_an_existing_object_as_for_a_missing_one(
    client, outsider, existing, name, route
):
    """A NUL is refused before any view runs (config.errors.RefuseUnusableInput): the same
    400 whatever the path names, so it says nothing of what exists either."""
    missing = {key: MISSING for key in existing} | {"slug": "no-such-system"}
    client.force_login(outsider)
    for which in ("GET", "POST"):
        answers = []
        for ids in (existing, missing):
            path = _path(route, ids) + "?q=%00"
            response = client.get(path) if which == "GET" else client.post(path, {"x": "\x00"})
            answers.append(response.status_code)
        assert answers[0] == answers[1] and answers[0] < 500, (name, which, answers)


@pytest.mark.django_db
def test_a_poll_token_is_good_for_the_viewer_it_was_given_to_only(
    client, viewer, outsider, incident
):
    from tests.incidents.war_room_pages import poll_url

    client.force_login(viewer)
    url = poll_url(client.get(incident.get_absolute_url()))
    assert client.get(url).status_code == 204

    client.force_login(outsider)  # the same groups (none), the viewer's token: no 204
    assert client.get(url).status_code == 404
    assert client.get(url.replace(str(incident.pk), str(MISSING), 1)).status_code == 404

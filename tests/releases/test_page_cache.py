"""The release page served from the page cache: never stale, never another viewer's, never
past a revoked role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance import services as governance
from governance.audit.chain import seal_all
from governance.models import RoleGrant
from governance.pagecache import system_version
from governance.roles import Role
from releases import services

pytestmark = pytest.mark.django_db


def get(client, release):  # type: ignore[no-untyped-def]
    return client.get(release.get_absolute_url())


def visit_twice(client, release):  # type: ignore[no-untyped-def]
    """The first visit gives the browser its CSRF cookie; the second is the first cacheable."""
    get(client, release)
    return get(client, release)


def test_an_unchanged_page_is_served_from_the_cache_in_three_queries(
    client, release_manager, submitted
):
    client.force_login(release_manager)
    rendered = visit_twice(client, submitted)
    assert rendered["X-Page-Cache"] == "miss"
    with CaptureQueriesContext(connection) as captured:
        cached = get(client, submitted)
    assert cached["X-Page-Cache"] == "hit"
    assert cached.content == rendered.content
    # The session, the user, and the system's version with the user's groups: no permission
    # query and none of the page's own.
    assert len(captured) == 3, [q["sql"] for q in captured]


def test_a_change_through_any_service_is_shown_at_once(
    client, release_manager, second_approver, submitted
):
    client.force_login(release_manager)
    visit_twice(client, submitted)
    services.record_approval(
        actor=second_approver, release=submitted, decision="approve", comment="Segment report ok."
    )
    page = get(client, submitted)
    assert page["X-Page-Cache"] == "miss"
    assert b"Segment report ok." in page.content


def test_sealing_the_audit_chain_does_not_change_the_version(
    release_manager, fraud, second_approver, submitted
):
    services.record_approval(
        actor=second_approver, release=submitted, decision="approve", comment="ok"
    )
    before = system_version(fraud.pk, release_manager)
    seal_all()
    assert system_version(fraud.pk, release_manager) == before


def test_a_revoked_role_is_refused_at_once_not_served_from_the_cache(
    client, owner, release_manager, submitted
):
    client.force_login(release_manager)
    assert visit_twice(client, submitted).status_code == 200
    grant = RoleGrant.objects.get(system=submitted.system, user=release_manager)
    governance.revoke_role(actor=owner, grant=grant)
    assert get(client, submitted).status_code == 404


def test_a_role_granted_through_a_group_changes_the_page(
    client, owner, outsider, release_manager, submitted
):
    reviewers = Group.objects.create(name="Fraud reviewers")
    governance.grant_role(
        actor=owner, system=submitted.system, role=Role.RELEASE_MANAGER, group=reviewers
    )
    client.force_login(outsider)
    assert visit_twice(client, submitted).status_code == 404
    outsider.groups.add(reviewers)  # in the admin: no service, no audit event
    page = get(client, submitted)
    assert page.status_code == 200
    assert page["X-Page-Cache"] != "hit"
    assert get(client, submitted)["X-Page-Cache"] == "miss"
    assert get(client, submitted)["X-Page-Cache"] == "hit"
    outsider.groups.remove(reviewers)
    assert get(client, submitted).status_code == 404


def test_each_viewer_gets_their_own_page(client, release_manager, viewer, outsider, submitted):
    client.force_login(release_manager)
    visit_twice(client, submitted)
    assert get(client, submitted)["X-Page-Cache"] == "hit"

    client.force_login(viewer)  # the same browser: the same CSRF cookie
    page = get(client, submitted)
    assert page["X-Page-Cache"] == "miss"
    assert b"Record decision" not in page.content  # a viewer may not decide

    client.force_login(outsider)
    assert get(client, submitted).status_code == 404


def test_a_page_with_a_message_to_show_is_rendered_not_cached(
    client, release_manager, second_approver, submitted
):
    client.force_login(second_approver)
    visit_twice(client, submitted)
    response = client.post(
        f"{submitted.get_absolute_url()}approvals/",
        {"decision": "approve", "comment": "Read the card."},
    )
    assert response.status_code == 302
    page = get(client, submitted)
    assert page["X-Page-Cache"] == "bypass"
    assert b"Recorded: approve" in page.content
    assert b"Recorded: approve" not in get(client, submitted).content  # shown once


def test_an_unknown_release_is_404_not_500(client, release_manager):
    client.force_login(release_manager)
    assert client.get("/releases/987654321/").status_code == 404

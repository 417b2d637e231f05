"""A system's page tells each person what they may do there, and who may do the rest: the
same answer the page's controls were drawn from."""

from __future__ import annotations

import pytest

from governance.roles import Action

pytestmark = pytest.mark.django_db


def _card(client, slug: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/systems/{slug}/").content.decode()
    start = page.index('id="what-you-may-do"')
    return page[start : page.index("</section>", start)]


def test_a_viewer_may_only_see_and_is_told_who_does_the_rest(client, viewer, fraud):
    client.force_login(viewer)
    card = _card(client, fraud.slug)
    yes, _, no = card.partition('class="may-not"')
    assert Action.VIEW.label in yes
    assert Action.APPROVE_RELEASE.label not in yes
    assert Action.APPROVE_RELEASE.label in no and "Release manager" in no


def test_a_rollback_owner_is_told_they_may_roll_back(client, rollback_owner, fraud):
    client.force_login(rollback_owner)
    yes, _, _ = _card(client, fraud.slug).partition('class="may-not"')
    assert Action.REQUEST_ROLLBACK.label in yes
    assert Action.CHANGE.label not in yes

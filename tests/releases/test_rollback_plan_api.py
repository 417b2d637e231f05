"""PUT /api/releases/{id}/rollback-plan/: access first, then the body; optional means optional."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _plan(**fields):  # type: ignore[no-untyped-def]
    return {
        "environment": "production",
        "owners": ["rob"],
        "mode": "auto_propose",
        "triggers": [],
        **fields,
    }


def _put(client, release, body):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/releases/{release.pk}/rollback-plan/", body, content_type="application/json"
    )


def test_it_takes_the_default_cooldown_when_none_is_sent(
    client, model_owner, rollback_owner, draft, production
):
    client.force_login(model_owner)

    response = _put(client, draft, _plan())

    assert response.status_code == 200, response.content
    assert response.json()["cooldown_minutes"] == 30
    draft.rollback_plan.refresh_from_db()
    assert draft.rollback_plan.cooldown_minutes == 30


def test_it_refuses_a_cooldown_beyond_a_week(
    client, model_owner, rollback_owner, draft, production
):
    client.force_login(model_owner)

    response = _put(client, draft, _plan(cooldown_minutes=7 * 24 * 60 + 1))

    assert response.status_code == 400
    assert "cooldown_minutes" in response.json()


@pytest.mark.parametrize(
    "body",
    [_plan(), _plan(environment="nowhere", owners="not a list"), {"mode": ["wrong"]}],
    ids=["valid", "invalid", "wrong types"],
)
def test_a_viewer_is_refused_before_the_body_is_read(
    client, viewer, rollback_owner, draft, production, body
):
    client.force_login(viewer)
    before = AuditEvent.objects.count()

    response = _put(client, draft, body)

    assert response.status_code == 403
    assert AuditEvent.objects.count() == before

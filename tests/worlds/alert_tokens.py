"""The alert token pages' world (their routes: tests/incidents/test_alert_token_pages.py): an
alert token of fraud, to revoke, and its production environment, to send a test alert to."""

from __future__ import annotations

import pytest

from incidents.services.alert_tokens import create_alert_token


@pytest.fixture
def alert_tokens_world(
    owner,
    fraud,
    production,
    people,
):
    token, _ = create_alert_token(actor=owner, system=fraud, name="Alertmanager")
    return people, {"token": token.pk, "production": production.pk}

"""The API token pages' world (their routes: tests/governance/test_api_tokens.py): a token of
the owner's and one of the viewer's on fraud."""

from __future__ import annotations

import pytest

from governance import services


@pytest.fixture
def api_tokens_world(people, fraud):  # type: ignore[no-untyped-def]
    token, _ = services.create_api_token(
        actor=people["owner"], system=fraud, name="owner's", expires_in_days=30
    )
    viewer_token, _ = services.create_api_token(
        actor=people["viewer"], system=fraud, name="viewer's", expires_in_days=30
    )
    return people, {"token": token.pk, "viewer_token": viewer_token.pk, "fraud": fraud.pk}

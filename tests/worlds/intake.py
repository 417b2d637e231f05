"""The registry intake's world (its routes: tests/releases/test_intake.py): a webhook secret
and a followed model of `fraud`."""

from __future__ import annotations

import pytest

from releases import services


@pytest.fixture
def intake_world(owner, fraud, people):  # type: ignore[no-untyped-def]
    secret, _ = services.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    follow = services.follow_model(actor=owner, system=fraud, model_name="fraud-gbm",
                                   tracking_uri="https://mlflow.example.com")  # fmt: skip
    return people, {"secret": secret.pk, "follow": follow.pk}

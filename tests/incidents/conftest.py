from __future__ import annotations

import pytest

from incidents import services


@pytest.fixture
def incident(oncall_lead, fraud, live_release, production):
    return services.declare_incident(
        actor=oncall_lead,
        system=fraud,
        environment=production,
        title="Review rate tripled",
        severity="sev2",
        category="performance",
    )


@pytest.fixture
def people(  # type: ignore[no-untyped-def]
    owner, release_manager, model_owner, rollback_owner, oncall_lead, responder, compliance,
    viewer, outsider,
):  # fmt: skip
    """Every persona by name, for the role matrices."""
    return {
        "owner": owner,
        "release_manager": release_manager,
        "model_owner": model_owner,
        "rollback_owner": rollback_owner,
        "oncall_lead": oncall_lead,
        "responder": responder,
        "compliance": compliance,
        "viewer": viewer,
        "outsider": outsider,
    }

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

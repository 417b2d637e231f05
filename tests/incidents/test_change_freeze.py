"""The change freeze's written-out statement answers as its ORM form does."""

from __future__ import annotations

import itertools

import pytest

from incidents import services
from incidents.change_freeze import freezing_incidents, holding
from incidents.models import Incident


@pytest.mark.django_db
def test_the_written_out_statement_holds_the_incidents_the_orm_form_finds(  # type: ignore[no-untyped-def]
    fraud, production, staging, oncall_lead, live_release, make_release
):
    hotfix = make_release("2.0.1")
    for n, (severity, where, stage) in enumerate(
        itertools.product(
            ("sev1", "sev2", "sev3"),
            (production, staging, None),
            ("detected", "recovery", "review"),
        )
    ):
        incident = services.declare_incident(
            actor=oncall_lead, system=fraud, environment=where, title=f"Incident {n}",
            severity=severity, category="performance",
        )  # fmt: skip
        if stage != "detected":
            services.move_stage(actor=oncall_lead, incident=incident, stage=stage)
        if n % 4 == 0:
            services.cite_hotfix(actor=oncall_lead, incident=incident, release=hotfix)
    for environment, release in itertools.product((production, staging), (hotfix, live_release)):
        expected = list(
            Incident.objects.filter(freezing_incidents(environment))
            .exclude(hotfixes__release=release)
            .order_by("detected_at", "id")
            .values_list("pk", "severity")
        )
        assert holding(release, environment) == expected
        assert expected  # the table freezes each environment for someone

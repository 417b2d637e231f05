"""Who reports what, by the system's record: a provider reports under Art. 73(1); a deployer
informs the provider first (Art. 26(5)); under sector law with equivalent reporting (73(9))
or for a medical device (73(10)) only an Art. 3(49)(c) infringement is the AI Act's to report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from governance import services as governance
from governance.evidence.pack.period import PackPeriod
from governance.models import AISystem
from incidents import services
from incidents.art73 import reporting_clock, rules
from incidents.evidence.pack import serious_rows
from incidents.home import home_contribution
from incidents.models import OperatorNotice

AWARE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday morning in winter time


def regime(system: AISystem, **fields: str) -> AISystem:
    AISystem.objects.filter(pk=system.pk).update(**fields)
    system.refresh_from_db()
    return system


# regime, harms, death, widespread → the binding days (None: no Art. 73 report is due)
DEATH, RIGHTS, GRID = "death_or_health", "fundamental_rights", "critical_infrastructure"
DEVICE, SECTOR = "medical_devices", "equivalent_sector_law"
SECTOR_CASES = {
    "AI Act, death and infrastructure": ("ai_act", [DEATH, GRID], True, False, 2),
    "AI Act, death": ("ai_act", [DEATH], True, False, 10),
    "73(10), death only": (DEVICE, [DEATH], True, False, None),
    "73(10), infrastructure only": (DEVICE, [GRID], False, False, None),
    "73(10), death and rights": (DEVICE, [DEATH, RIGHTS], True, False, 15),
    "73(10), rights, widespread": (DEVICE, [RIGHTS], False, True, 2),
    "73(9), property only": (SECTOR, ["property_or_environment"], False, False, None),
    "73(9), rights": (SECTOR, [RIGHTS], False, False, 15),
    "73(9), rights and infrastructure": (SECTOR, [RIGHTS, GRID], False, False, 15),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reporting_regime", "harms", "death", "widespread", "days"),
    SECTOR_CASES.values(),
    ids=SECTOR_CASES.keys(),
)
def test_a_sector_limit_leaves_only_fundamental_rights_to_the_ai_act(
    incident, oncall_lead, reporting_regime, harms, death, widespread, days
):
    regime(incident.system, reporting_regime=reporting_regime)
    incident = services.classify_serious(
        actor=oncall_lead,
        incident=incident,
        harm_categories=harms,
        aware_at=AWARE,
        involves_death=death,
        widespread_infringement=widespread,
    )
    clock = reporting_clock(incident)
    entry = incident.timeline.filter(body__startswith="Classified serious").get()
    rows = list(serious_rows(incident.system, PackPeriod(AWARE.date(), timezone.now().date())))
    _template, panel = home_contribution(oncall_lead).panels[0]
    on_home = [row.incident for row in panel["clocks"]]
    assert panel["clocks_running"] == len(on_home) == (0 if days is None else 1)
    if days is None:
        assert clock is None
        article = rules()["sector_limits"][reporting_regime]["article"]
        assert article in entry.body and "no Art. 73 report is due" in entry.body
        assert rows[0]["reported_under"] == f"sector legislation ({article})"
        assert rows[0]["deadline"] is None and rows[0]["reported_in_time"] is None
    else:
        assert clock is not None and clock.days == days
        assert rows[0]["reported_under"] == "AI Act, Art. 73"
        assert rows[0]["deadline"] == clock.deadline


@pytest.mark.django_db
def test_the_war_room_says_which_law_and_whose_duty(incident, oncall_lead, client):
    regime(incident.system, reporting_regime="medical_devices", operator_role="deployer")
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["death_or_health"], aware_at=AWARE
    )
    client.force_login(oncall_lead)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Serious, reported under sector legislation" in page
    assert "Art. 73(10)" in page and "2017/745" in page
    assert "inform the provider first" in page  # Art. 26(5)
    assert "suspend the use of the system" in page
    assert "Nobody yet: inform the provider first." in page
    assert f'action="/incidents/{incident.pk}/operator-notices/"' in page


@pytest.mark.django_db
def test_a_deployer_informs_the_provider_first(incident, oncall_lead):
    regime(incident.system, operator_role="deployer")
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    # The distributor before the provider: recorded, with Art. 26(5)'s order said.
    services.record_operator_notice(
        actor=oncall_lead, incident=incident, recipient="distributor", name="EuroDist"
    )
    early = incident.timeline.filter(body__contains=" informed at ").get()
    assert "inform the provider first" in early.body
    sent = timezone.now() - timedelta(minutes=5)
    notice = services.record_operator_notice(
        actor=oncall_lead,
        incident=incident,
        recipient="provider",
        name="Acme Models",
        reference="ACME-7",
        sent_at=sent,
    )
    assert notice.sent_at == sent and notice.reference == "ACME-7"
    last = incident.timeline.filter(body__contains=" informed at ").order_by("-id")[0]
    assert "Provider Acme Models informed" in last.body and "Art. 26(5)" in last.body
    assert "inform the provider first" not in last.body
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_operator_notice(
            actor=oncall_lead, incident=incident, recipient="provider", name="Acme Models"
        )
    services.record_report_sent(
        actor=oncall_lead, incident=incident, complete=False, member_state="DE",
        authority="Bundesnetzagentur",
    )  # fmt: skip
    # The records stand: no edit, no delete, not even by SQL.
    for statement in (
        "UPDATE incidents_operatornotice SET name = 'x'",
        "DELETE FROM incidents_operatornotice",
        "UPDATE incidents_authoritynotification SET authority = 'x'",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert OperatorNotice.objects.filter(incident=incident).count() == 2


@pytest.mark.django_db
def test_a_notice_is_refused_when_it_has_no_place(incident, oncall_lead):
    with pytest.raises(ValidationError, match="provider"):  # the organisation is the provider
        services.record_operator_notice(
            actor=oncall_lead, incident=incident, recipient="provider", name="Acme"
        )
    regime(incident.system, operator_role="deployer")
    with pytest.raises(ValidationError, match="serious first"):
        services.record_operator_notice(
            actor=oncall_lead, incident=incident, recipient="provider", name="Acme"
        )
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    for bad in (
        {"recipient": "authority", "name": "Acme"},
        {"recipient": "provider", "name": "   "},
        {"recipient": "provider", "name": "Acme", "sent_at": timezone.now() + timedelta(hours=1)},
        {"recipient": "provider", "name": "A" * 201},
    ):
        with pytest.raises(ValidationError):
            services.record_operator_notice(actor=oncall_lead, incident=incident, **bad)
    assert not OperatorNotice.objects.exists()


@pytest.mark.django_db
def test_the_api_records_notices_and_the_system_role(incident, oncall_lead, owner, client):
    client.force_login(owner)
    url = f"/api/systems/{incident.system.slug}/"
    bad = client.patch(url, {"operator_role": "importer"}, content_type="application/json")
    assert bad.status_code == 400 and "operator_role" in bad.json()
    changed = client.patch(
        url,
        {"operator_role": "deployer", "reporting_regime": "equivalent_sector_law"},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["operator_role"] == "deployer"
    # A change that names neither keeps both.
    kept = client.patch(url, {"risk_category": "high"}, content_type="application/json")
    assert kept.json()["reporting_regime"] == "equivalent_sector_law"
    incident.system.refresh_from_db()
    assert incident.system.operator_role == "deployer"
    event = incident.system.audit_events.filter(action="system.updated").order_by("id")[0]
    assert event.after["operator_role"] == "deployer"

    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    client.force_login(oncall_lead)
    response = client.post(
        f"/api/incidents/{incident.pk}/operator-notices/",
        {"recipient": "provider", "name": "Acme Models", "reference": "R-1"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["operator_notices"][0]["name"] == "Acme Models"
    refused = client.post(
        f"/api/incidents/{incident.pk}/operator-notices/",
        {"recipient": "provider"},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "name" in refused.json()


@pytest.mark.django_db
def test_the_system_form_keeps_the_role(fraud, owner, client):
    client.force_login(owner)
    page = client.get(f"/systems/{fraud.slug}/edit/").content.decode()
    assert 'name="operator_role"' in page and 'name="reporting_regime"' in page
    governance.update_system(
        actor=owner,
        system=fraud,
        name=fraud.name,
        slug=fraud.slug,
        intended_purpose=fraud.intended_purpose,
        risk_category=fraud.risk_category,
        operator_role="deployer",
        reporting_regime="medical_devices",
    )
    detail = client.get(f"/systems/{fraud.slug}/").content.decode()
    assert "Deployer" in detail and "Medical device or IVD" in detail

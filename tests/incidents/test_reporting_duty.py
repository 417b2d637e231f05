"""Art. 73(5): the first report sent, initial or complete, meets the reporting duty.

For each combination of reports (neither, initial only, complete only, both) sent on time or
late, the home page, the war room and the evidence pack agree: whether the clock still runs,
and whether the incident was reported in time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.evidence.pack.period import PackPeriod
from incidents import services
from incidents.art73 import first_report_at, reported_in_time, reporting_clock
from incidents.evidence.pack import serious_rows
from incidents.home import home_contribution

GENERAL_DAYS = 15  # fundamental rights: Art. 73(2)
ON_TIME, LATE = timedelta(days=3), timedelta(days=16)  # after awareness

# (initial, complete) sent this long after awareness, or None; then the expected answers:
# the clock's state in the war room, whether the home page still runs a clock, in time.
CASES = {
    "neither, deadline ahead": (None, None, "running", True, None),
    "neither, deadline passed": (None, None, "overdue", True, False),
    "initial only, on time": (ON_TIME, None, "reported", False, True),
    "initial only, late": (LATE, None, "reported_late", False, False),
    "complete only, on time": (None, ON_TIME, "reported", False, True),
    "complete only, late": (None, LATE, "reported_late", False, False),
    "both on time": (ON_TIME, ON_TIME + timedelta(days=5), "reported", False, True),
    "initial on time, complete late": (ON_TIME, LATE, "reported", False, True),
    "both late": (LATE, LATE + timedelta(hours=1), "reported_late", False, False),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("initial", "complete", "state", "on_home", "in_time"), CASES.values(), ids=CASES.keys()
)
def test_home_war_room_and_pack_agree(
    incident, oncall_lead, client, initial, complete, state, on_home, in_time
):
    now = timezone.now()
    # Aware 20 days ago (the deadline passed 5 days ago), or 4 (11 days left) for a clock
    # still running.
    aware = now - timedelta(days=4 if state == "running" else 20)
    incident = services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"], aware_at=aware
    )
    for after, is_complete in ((initial, False), (complete, True)):
        if after is not None:
            services.record_report_sent(
                actor=oncall_lead, incident=incident, complete=is_complete, sent_at=aware + after
            )
    incident.refresh_from_db()
    clock = reporting_clock(incident)
    assert clock is not None and clock.days == GENERAL_DAYS

    # The war room (its status bar and reporting card).
    assert clock.state(now, first_report_at(incident)) == state
    client.force_login(oncall_lead)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"clock-{state}" in page
    # The home page runs a clock only until the first report.
    home = home_contribution(oncall_lead)
    _template, panel = home.panels[0]
    assert (incident in [row.incident for row in panel["clocks"]]) is on_home
    # The pack.
    today = now.date()
    [row] = serious_rows(incident.system, PackPeriod(today - timedelta(days=30), today))
    assert row["reported_in_time"] is in_time
    assert reported_in_time(incident, now) is in_time
    first = first_report_at(incident)
    assert row["first_report_sent_at"] == first
    if first is not None:
        assert first == aware + min(t for t in (initial, complete) if t is not None)


@pytest.mark.django_db
@pytest.mark.parametrize("refuse", [False, True], ids=["warn", "refuse"])
def test_a_system_not_registered_high_risk_is_warned_or_refused(
    incident, oncall_lead, client, settings, refuse
):
    """Art. 73(1) binds providers of high-risk systems: the clock of another system's
    incident runs with a plain warning, or (by the setting) classification is refused."""
    from django.core.exceptions import ValidationError

    from incidents.art73 import rules

    settings.SERIOUS_INCIDENTS_HIGH_RISK_ONLY = refuse
    system = incident.system
    system.risk_category = "minimal"
    system.save(update_fields=["risk_category"])
    incident.refresh_from_db()
    if refuse:
        with pytest.raises(ValidationError, match="Only an incident of a high-risk AI system"):
            services.classify_serious(
                actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
            )
        incident.refresh_from_db()
        assert not incident.is_serious
        return
    services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    client.force_login(oncall_lead)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert " ".join(rules()["high_risk_only"]["warning"].split()[:8]) in page
    assert incident.timeline.filter(body__contains="Art. 73(1) binds").exists()


@pytest.mark.django_db
def test_the_causal_link_and_each_authority_notified_are_recorded(incident, oncall_lead, client):
    """Art. 73(2), (4): due immediately after the causal link; Art. 73(1): to the authorities
    of the Member States concerned, each with its reference."""
    from django.core.exceptions import ValidationError

    from incidents.art73 import rules

    incident = services.classify_serious(
        actor=oncall_lead, incident=incident, harm_categories=["fundamental_rights"]
    )
    client.force_login(oncall_lead)
    response = client.post(f"/api/incidents/{incident.pk}/causal-link/", {}, "application/json")
    assert response.status_code == 200, response.content
    assert response.json()["causal_link_at"] is not None
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    due = f"<strong>{rules()['causal_link']['due']}</strong>"  # in the reporting card
    assert due in page  # nothing sent yet: report immediately
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_causal_link(actor=oncall_lead, incident=incident)

    for state, authority, reference in (
        ("BE", "FPS Economy", "BE-2026-0042"),
        ("FR", "DGCCRF", ""),
    ):
        response = client.post(
            f"/api/incidents/{incident.pk}/reports/",
            {"complete": False, "member_state": state, "authority": authority,
             "reference": reference},
            "application/json",
        )  # fmt: skip
        assert response.status_code == 200, response.content
    body = response.json()
    assert [(n["member_state"], n["authority"], n["reference"], n["complete"])
            for n in body["authority_notifications"]] == [
        ("BE", "FPS Economy", "BE-2026-0042", False), ("FR", "DGCCRF", "", False),
    ]  # fmt: skip
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Initial report to FPS Economy (Belgium (BE))" in page and "BE-2026-0042" in page
    assert due not in page  # a report went out
    # The same report to the same authority again, or a half-named authority: refused.
    for data, field in (
        ({"complete": False, "member_state": "BE", "authority": "FPS Economy"}, "detail"),
        ({"complete": True, "authority": "FPS Economy"}, "member_state"),
        ({"complete": True, "member_state": "XX", "authority": "A"}, "member_state"),
    ):
        response = client.post(f"/api/incidents/{incident.pk}/reports/", data, "application/json")
        assert response.status_code == 400 and field in response.json(), response.content
    incident.refresh_from_db()
    assert incident.authority_notifications.count() == 2
    assert incident.complete_report_sent_at is None

"""The whole gate in one form: every filled row recorded at once, as typed, or none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from governance.models import AuditEvent
from releases import services
from releases.models import GateCheck

pytestmark = pytest.mark.django_db

ROWS = [
    # criterion, comparison, measured, target, unit, attested, evidence
    ("benchmark", "gte", "0.9137", "0.9", "AUC", "", "https://mlflow.example.com/runs/1"),
    ("protected_segments", "lte", "0.8", "2", "pp", "", "https://wiki.example.com/segments"),
    ("latency", "lte", "240", "300", "ms", "", "https://grafana.example.com/d/p95"),
    ("calibration", "attested", "", "", "", "true", "https://wiki.example.com/calibration"),
    ("error_analysis", "attested", "", "", "", "true", "https://wiki.example.com/errors"),
    ("rollback_ready", "attested", "", "", "", "true", "https://runbooks.example.com/rb"),
    ("owners_recorded", "attested", "", "", "", "", ""),  # left empty: records nothing
]


def gate_form(rows=ROWS):  # type: ignore[no-untyped-def]
    data = {"gate-TOTAL_FORMS": str(len(rows)), "gate-INITIAL_FORMS": str(len(rows))}
    for n, (criterion, comparison, measured, target, unit, attested, evidence) in enumerate(rows):
        data.update({
            f"gate-{n}-criterion": criterion, f"gate-{n}-comparison": comparison,
            f"gate-{n}-measured_value": measured, f"gate-{n}-target": target,
            f"gate-{n}-unit": unit, f"gate-{n}-attested_pass": attested,
            f"gate-{n}-evidence_uri": evidence, f"gate-{n}-note": "",
        })  # fmt: skip
    return data


def test_the_page_offers_a_row_per_criterion(client, model_owner, draft):
    client.force_login(model_owner)
    html = client.get(f"/releases/{draft.pk}/").content.decode()
    assert 'name="gate-TOTAL_FORMS" value="7"' in html
    assert "Record gate evidence" in html


def test_one_submission_records_every_filled_row(client, model_owner, draft):
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form())
    assert response.status_code == 302
    assert response.url == f"/releases/{draft.pk}/#gate"
    checks = {c.criterion: c for c in draft.gate_checks.all()}
    assert sorted(checks) == sorted(row[0] for row in ROWS[:6])
    assert all(c.passed for c in checks.values())
    assert checks["benchmark"].measured_value == Decimal("0.9137")
    assert AuditEvent.objects.filter(action="gate.recorded").count() == 6
    page = client.get(f"/releases/{draft.pk}/").content.decode()
    assert "0.9137 AUC" in page and "0.91 AUC" not in page


def test_a_bad_row_records_nothing_and_says_which(client, model_owner, draft):
    rows = list(ROWS)
    rows[2] = ("latency", "lte", "", "300", "ms", "", "https://grafana.example.com/d/p95")
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form(rows))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Give the measured value." in html
    assert 'value="0.9137"' in html  # what was typed stays
    assert not GateCheck.objects.exists()


def test_too_many_decimals_is_a_clear_error(client, model_owner, draft):
    rows = [("benchmark", "gte", "0.91370001", "0.9", "", "", "https://e.example.com")]
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form(rows))
    assert response.status_code == 400
    assert "decimal places" in response.content.decode()
    assert not GateCheck.objects.exists()


def test_an_empty_form_is_refused(client, model_owner, draft):
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form(ROWS[6:]))
    assert response.status_code == 400
    assert "Fill in at least one criterion" in response.content.decode()


def test_a_viewer_may_not_record_evidence(client, viewer, draft):
    client.force_login(viewer)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form())
    assert response.status_code == 403
    assert not GateCheck.objects.exists()


def test_the_service_records_all_or_none(model_owner, draft):
    with pytest.raises(services.GateEvidenceErrors) as refused:
        services.record_gate_evidence(
            actor=model_owner, release=draft, checks=[
                {"criterion": "calibration", "comparison": "attested", "attested_pass": True,
                 "evidence_uri": "https://e.example.com"},
                {"criterion": "nonsense", "comparison": "attested", "attested_pass": True,
                 "evidence_uri": "https://e.example.com"},
            ],
        )  # fmt: skip
    assert list(refused.value.by_row) == [1]
    assert not GateCheck.objects.exists()


def test_a_tampered_criterion_is_refused_in_words(client, model_owner, draft):
    rows = [("nonsense", "attested", "", "", "", "true", "https://e.example.com")]
    client.force_login(model_owner)
    response = client.post(f"/releases/{draft.pk}/gate-evidence/", gate_form(rows))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not GateCheck.objects.exists()

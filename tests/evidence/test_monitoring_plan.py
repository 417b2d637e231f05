"""The post-market monitoring plan (Art. 72(3)), generated from the October history: what each
environment runs and what watches it, the drills, the alert sources, the reviews, the gaps;
the same in the pack's JSON, its report (HTML and PDF) and the evidence page."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.evidence import sign
from governance.evidence.pack.period import PackPeriod
from governance.evidence.pack.services import export_evidence_pack
from incidents.evidence.monitoring_plan import monitoring_plan
from releases import services
from tests.evidence.pdf import tool

OCTOBER = PackPeriod(date(2026, 10, 1), date(2026, 10, 31))
EXPORTED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # the plan's "now": drills 90 days back
PAGE = "/systems/fraud/evidence/documents/post_market_monitoring_plan/"


def _by_slug(plan: dict) -> dict[str, dict]:
    return {row["environment"]["slug"]: row for row in plan["environments"]}


@pytest.mark.django_db
def test_the_plan_says_what_watches_each_environment_and_what_is_missing(evidence_history, owner):
    with time_machine.travel(EXPORTED, tick=False):
        plan = monitoring_plan(evidence_history.system, OCTOBER)
    assert plan["article"] == "Art. 72" and plan["applies"] is True
    production, staging = _by_slug(plan)["production"], _by_slug(plan)["staging"]
    assert production["live_release"] == staging["live_release"] == "1.2.0"
    # 1.2.0's plan covers Production, rolls back to 1.0.0 and names its owner.
    assert production["plan"]["target_release"] == "1.0.0"
    assert [o["username"] for o in production["plan"]["owners"]] == ["rob"]
    assert staging["drills_in_period"] == 1 and production["drills_in_period"] == 0
    assert staging["last_drill"]["status"] == "succeeded"
    assert staging["last_drill"]["seconds_to_finish"] is not None
    assert plan["data_sources"]["alerts_in_period"] == {"generic": 3}
    assert plan["review"]["incidents"] == 2
    assert plan["release_gate"]["approvals_required"] == 2
    assert "Staging: The live release's plan covers Production, not this one." in plan["gaps"]
    assert "Production: No rollback drill in the last 90 days." in plan["gaps"]
    assert not any(gap.startswith("Staging: No rollback drill") for gap in plan["gaps"])
    assert any("No alert token" in gap for gap in plan["gaps"])

    # Its queries do not grow with the environments.
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            monitoring_plan(evidence_history.system, OCTOBER)
        return len(queries)

    two = count()
    for name in ("Canary", "Shadow", "EU West"):
        services.create_environment(actor=owner, system=evidence_history.system, name=name)
    assert count() == two <= 14


@pytest.mark.django_db
def test_the_pack_and_the_evidence_page_hold_the_plan(
    evidence_history, compliance, settings, tmp_path, client
):
    settings.EVIDENCE_SIGNING_KEY = sign.generate_private_pem().decode()
    with time_machine.travel(EXPORTED, tick=False):
        pack = export_evidence_pack(
            actor=compliance, system=evidence_history.system, period=OCTOBER
        )
        archive = zipfile.ZipFile(io.BytesIO(b"".join(pack)))
        expected = json.loads(json.dumps(monitoring_plan(evidence_history.system, OCTOBER),
                                         default=str))  # fmt: skip
    held = json.loads(archive.read("post_market_monitoring_plan.json"))

    def watched(plan: dict) -> list:
        return [(r["environment"]["slug"], r["live_release"], r["plan"] and r["plan"]["triggers"],
                 r["drills_in_period"], r["gaps"]) for r in plan["environments"]]  # fmt: skip

    assert watched(held) == watched(expected) and held["gaps"] == expected["gaps"]
    manifest = json.loads(archive.read("manifest.json"))
    assert "post_market_monitoring_plan.json" in {f["path"] for f in manifest["files"]}

    html = archive.read("report.html").decode()
    assert "Post-market monitoring plan (EU AI Act Art. 72)" in html
    assert "review_rate" in html and "No rollback drill in the last 90 days." in html
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(archive.read("report.pdf"))
    text = subprocess.run(
        [tool("pdftotext"), str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    flat = re.sub(r"\s+", " ", text)
    assert "Post-market monitoring plan (EU AI Act Art. 72)" in flat
    assert "6.6 Gaps" in flat and "not this one." in flat

    client.force_login(compliance)
    page = client.get(PAGE)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'aria-current="page">Monitoring plan' in body
    assert "What is monitored, and what acts on it" in body and "Gaps" in body
    download = client.get(PAGE.removesuffix("/") + ".json")
    assert download.status_code == 200
    assert download["Content-Disposition"].endswith('-post_market_monitoring_plan.json"')
    assert json.loads(download.content)["article"] == "Art. 72"
    assert client.get("/systems/fraud/evidence/documents/nothing/").status_code == 404

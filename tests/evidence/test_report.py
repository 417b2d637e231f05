"""The pack's report: the PDF opens and shows the answers; the HTML carries the same, with
charts as well-formed SVG."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from xml.etree import ElementTree

import pytest

from governance.evidence import sign
from governance.evidence.pack.services import export_evidence_pack
from governance.evidence.report_charts import nice_ticks, svg_bars
from tests.evidence.conftest import OCTOBER
from tests.evidence.pdf import tool

# What an auditor must read in the report, from the October history (tests/evidence/conftest.py).
ANSWERS = [
    "Fraud model 1.1.0",  # the releases live in the period
    "Threshold change reviewed against Q3 data.",  # an approver's comment
    "Recall gain confirmed.",
    "Quarterly rollback drill",  # a drill was run
    "Review rate",  # the incident that led to the rollback
]


@pytest.fixture
def report_pack(evidence_history, compliance, settings) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    settings.EVIDENCE_SIGNING_KEY = sign.generate_private_pem().decode()
    pack = export_evidence_pack(actor=compliance, system=evidence_history.system, period=OCTOBER)
    return zipfile.ZipFile(io.BytesIO(b"".join(pack)))


@pytest.mark.django_db
def test_the_pdf_opens_and_shows_the_answers(report_pack, artifacts_dir, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report_pack.read("report.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF-")

    target = artifacts_dir / "evidence-report"
    subprocess.run(
        [tool("pdftoppm"), "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(target)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    png = artifacts_dir / "evidence-report.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000

    text = subprocess.run(
        [tool("pdftotext"), str(pdf), "-"], check=True, capture_output=True,
        timeout=60,
    ).stdout.decode()  # fmt: skip
    flat = re.sub(r"\s+", " ", text)
    assert "Evidence pack: Card fraud screening" in flat
    assert "2026-10-01 to 2026-10-31" in flat
    for answer in ANSWERS:
        assert answer in flat, answer
    assert "Incidents per week" in flat and "Time to rollback" in flat
    assert "Page 1 of" in flat
    # Each question asked is answered under its own heading.
    questions = __import__("json").loads(report_pack.read("questions.json"))["questions"]
    assert len(questions) >= 5
    for question in questions:
        assert re.sub(r"\s+", " ", question["title"])[:40] in flat, question["title"]


@pytest.mark.django_db
def test_the_html_report_shows_the_answers_and_charts(report_pack, evidence_history):
    html = report_pack.read("report.html").decode()
    assert html.startswith("<!doctype html>")
    for answer in ANSWERS:
        assert answer in html, answer
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed
    # October 2026 has five weeks starting on a Monday that touch it: 2 incidents in all.
    week_bars = re.findall(r"<title>(\d{4}-\d\d-\d\d): (\d+) incidents</title>", svgs[0])
    assert len(week_bars) == 5 and sum(int(n) for _, n in week_bars) == 2
    incident, rollback = evidence_history.incidents[0], evidence_history.rollback
    rollback.refresh_from_db()
    minutes = (rollback.finished_at - incident.detected_at).total_seconds() / 60
    assert f"<title>INC-{incident.pk}: {minutes:g} minutes</title>" in svgs[1]
    assert "<script" not in html.lower()


def test_chart_labels_are_escaped():
    svg = svg_bars([("<script>alert(1)</script>", 3)], unit="incidents", title="a & b")
    ElementTree.fromstring(str(svg))
    assert "<script>" not in svg


def test_chart_ticks_are_round():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(2) == [0, 1, 2]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(130) == [0, 50, 100, 150]

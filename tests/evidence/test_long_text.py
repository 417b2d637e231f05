"""Any text, at any length and in any script, exports: the pack completes and verifies, and
the report shows it whole in HTML and in PDF (issue 23, finding 1).

A 6,000-character approval comment used to make the PDF raise reportlab's LayoutError after
the ZIP had begun to stream. Here every text field of every record the pack carries is filled
to its maximum length (the model's `max_length`, or UNBOUNDED characters where it has none),
in scripts from Greek to Korean with long runs that have no space to break at.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils.html import escape

from governance.evidence import sign
from governance.evidence.verify_pack import verify_pack
from incidents import services as incident_services
from incidents.models import Alert
from releases import services
from releases.models import Approval
from tests.evidence.conftest import at, pass_gates, stack_of
from tests.fixtures.releases import CARD

QUERY = "?from=2026-10-01&to=2026-10-31"
UNBOUNDED = 100_000  # the length tried for a text field without a maximum

WORDS = [
    "Ελληνικά", "κείμενα", "Кириллический", "текст", "نص", "عربي", "طويل", "טקסט", "בעברית",
    "हिन्दी", "पाठ", "한국어", "텍스트", "emoji", "🚀🔥✅", "Ünïcödé", "façade", "\u2013",
    "“quotes”", "≥", "≤", "→", "<b>not", "markup</b>", "&amp;", "Latin", "text",
]  # fmt: skip
# No space to break at: a CJK sentence, a URL, a digest.
UNBROKEN = "中文文本没有空格日本語のテキスト" * 8 + "https://example.com/" + "a1b2c3d4" * 40


def filler(length: int) -> str:
    """`length` characters of words in many scripts, with a line break now and then and long
    unbroken runs."""
    parts: list[str] = []
    size = 0
    for n, word in enumerate(itertools.cycle(WORDS)):
        piece = UNBROKEN if n % 60 == 59 else ("\n" if n % 45 == 44 else word)
        parts.append(piece)
        size += len(piece) + 1
        if size > length:
            break
    return " ".join(parts)[:length]


def text_of(length: int, number: int) -> str:
    """A text of exactly `length` characters that starts and ends with ASCII markers."""
    start, end = f"S{number:03d} ", f" E{number:03d}"
    if length < len(start) + len(end) + 4:
        return filler(length)
    body = (UNBROKEN[: length // 3] + " " + filler(length))[: length - len(start) - len(end)]
    return start + body.strip().ljust(len(body), "x") + end


def candidates(length: int, number: int, pk: int) -> Iterator[str]:
    """What to try, in order, for a field of `length`: text in many scripts; for a field that
    takes URLs only, a URL as long; for a slug, a slug as long."""
    yield text_of(length, number)
    yield (f"https://example.com/{number}/" + "a1b2c3d4" * (length // 8 + 1))[:length]
    yield (f"s{pk}-" + "w" * length)[:length]


def _fits(field: models.Field, value: str) -> bool:
    """Whether the model's own validators (a slug's alphabet, a URL's schemes) accept it."""
    try:
        field.run_validators(value)
    except ValidationError:
        return False
    return True


TEXT_FIELDS = (models.CharField, models.TextField)
SKIPPED_MODELS = {
    # Hash-chained: their own text is the subject of the chain's tests, never rewritten.
    "governance.auditevent", "governance.auditchainhead", "governance.auditcheckpoint",
    # Secrets and credentials are not in a pack.
    "governance.apitoken", "incidents.alerttoken",
    # A backend's own state, never exported.
    "releases.localdeploymentstate",
}  # fmt: skip
# Written by Failsafe itself, never by a person: codes it branches on and digests it computes.
SKIPPED_FIELDS = {"password", "email", "via", "content_digest", "release_digest", "digest",
                  "fingerprint", "idempotency_key"}  # fmt: skip


def fill_every_text_field() -> dict[str, str]:
    """Every text field of every row in the database, at its maximum length. Returns the
    values written, by "app.model.field#pk"."""
    written: dict[str, str] = {}
    number = itertools.count(1)
    targets = [
        m for m in apps.get_models()
        if m._meta.app_label in {"governance", "releases", "incidents"}
        or m._meta.label_lower == "auth.user"
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing pending: tables can be altered
        for model in targets:
            if model._meta.label_lower in SKIPPED_MODELS:
                continue
            fields = [
                f for f in model._meta.concrete_fields
                if isinstance(f, TEXT_FIELDS) and not f.choices and f.name not in SKIPPED_FIELDS
            ]  # fmt: skip
            if not fields:
                continue
            # What the database's append-only and frozen-release triggers protect is written
            # here as the services would have written it in the first place (in this test's
            # transaction: the tables are back as they were when it ends).
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for obj in model._default_manager.all():
                values = {}
                for field in fields:
                    length = field.max_length or UNBOUNDED
                    value = next(
                        (v for v in candidates(length, next(number), obj.pk) if _fits(field, v)),
                        None,
                    )
                    if value is None:
                        continue
                    values[field.attname] = value
                    written[f"{model._meta.label_lower}.{field.name}#{obj.pk}"] = value
                model._default_manager.filter(pk=obj.pk).update(**values)
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    return written


def add_the_records_the_history_lacks(history: Any) -> None:
    """A containment action, a post-mortem and an action item on the open incident, so that
    their text is filled too."""
    lead, incident = history.people["oncall_lead"], history.incidents[1]
    with time_machine.travel(at(26, 9), tick=False):
        incident_services.request_containment(
            actor=lead, incident=incident, kind="disable_feature", target="new-customer scoring"
        )
        incident_services.save_postmortem(actor=lead, incident=incident, summary="Draft.")
        incident_services.add_action_item(actor=lead, incident=incident, title="Retrain.")


def fill_alert_payloads() -> dict[str, str]:
    """The labels and annotations alerts bring (JSON, no cap of their own), at UNBOUNDED."""
    written = {}
    for number, alert in enumerate(Alert.objects.all(), start=900):
        summary, description = text_of(UNBOUNDED, number), text_of(UNBOUNDED, number + 50)
        label = text_of(UNBOUNDED, number + 100)
        Alert.objects.filter(pk=alert.pk).update(
            annotations={"summary": summary, "description": description},
            labels={**alert.labels, "team": label},
        )
        written.update({
            f"incidents.alert.annotations.summary#{alert.pk}": summary,
            f"incidents.alert.annotations.description#{alert.pk}": description,
            f"incidents.alert.labels.team#{alert.pk}": label,
        })  # fmt: skip
    return written


def strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value)) if value else set()
    return set()


def pdf_text(data: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    tool = shutil.which("pdftotext") or "/usr/bin/pdftotext"
    assert shutil.which(tool), "pdftotext is missing: run `make pdf-deps` (poppler-utils)"
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    text = subprocess.run([tool, str(path), "-"], check=True, capture_output=True,
                          timeout=120).stdout.decode()  # fmt: skip
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def key(settings):  # type: ignore[no-untyped-def]
    pem = sign.generate_private_pem()
    settings.EVIDENCE_SIGNING_KEY = pem.decode()
    return sign.load_private_key(pem)


def download(client, slug: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/systems/{slug}/evidence-pack/{QUERY}")
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content)


def submitted_release(history, gate_check: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """1.3.0 of the history's system, gated, planned and submitted on 26 October."""
    author = history.people["model_owner"]
    with time_machine.travel(at(26, 10), tick=False):
        release = services.create_release(
            actor=author, system=history.system, version="1.3.0", title="Fraud model 1.3.0",
            card=CARD, components=stack_of("1.3.0"), change_categories=["threshold_policy_update"],
        )  # fmt: skip
        pass_gates(release, author)
        if gate_check:
            services.record_gate_check(actor=author, release=release, **gate_check)
        services.save_rollback_plan(
            actor=author, release=release, environment=history.production,
            owners=[history.people["rollback_owner"]], mode="manual", cooldown_minutes=30,
            triggers=[],
        )  # fmt: skip
        services.submit_release(actor=author, release=release)
    return release


@pytest.mark.django_db
def test_a_long_approval_comment_exports_and_verifies(client, evidence_history, key, tmp_path):
    """The case found: a 6,000-character comment on an approval (3,000 used to work), or as
    long as a comment may be, if less."""
    people = evidence_history.people
    length = min(6_000, Approval._meta.get_field("comment").max_length or 6_000)
    comment = ("Reviewed the threshold change against every channel. " * 120)[: length - 15]
    comment = comment.rstrip() + " END-OF-COMMENT"
    assert len(comment) > 4_000
    release = submitted_release(evidence_history)
    with time_machine.travel(at(27, 11), tick=False):
        services.record_approval(actor=people["release_manager"], release=release,
                                 decision="approve", comment=comment)  # fmt: skip

    client.force_login(people["compliance"])
    data = download(client, "fraud")
    result = verify_pack(io.BytesIO(data), public_key=key.public_key())
    assert result.ok, result.problems
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert escape(comment) in archive.read("report.html").decode()
    flat = pdf_text(archive.read("report.pdf"), tmp_path)
    assert "Reviewed the threshold change against every channel." in flat
    assert "END-OF-COMMENT" in flat  # whole: its end is there too


@pytest.mark.django_db
def test_every_text_field_at_its_maximum_length_exports_and_verifies(
    client, evidence_history, key, tmp_path, artifacts_dir
):
    add_the_records_the_history_lacks(evidence_history)
    written = fill_every_text_field() | fill_alert_payloads()
    system = evidence_history.system
    system.refresh_from_db()
    compliance = evidence_history.people["compliance"]
    compliance.refresh_from_db()
    # Every model the pack draws on had text to fill, the unbounded fields at UNBOUNDED.
    filled = {name.rsplit(".", 1)[0] for name in written}
    assert {"releases.approval", "releases.release", "releases.gatecheck",
            "releases.rollbackrequest", "incidents.incident", "incidents.timelineentry",
            "incidents.containmentaction", "incidents.postmortem", "incidents.actionitem",
            "incidents.alert", "governance.aisystem", "auth.user"} <= filled  # fmt: skip

    client.force_login(compliance)
    data = download(client, system.slug)
    result = verify_pack(io.BytesIO(data), public_key=key.public_key())
    assert result.ok, result.problems

    archive = zipfile.ZipFile(io.BytesIO(data))
    # The records: every text exported is exported whole.
    exported: set[str] = set()
    for name in archive.namelist():
        if name.endswith(".json") and name != "manifest.json":
            exported |= strings_in(json.loads(archive.read(name)))
    every_record = ("releases.approval.comment", "releases.release.why", "releases.gatecheck.note",
                    "incidents.timelineentry.body", "incidents.incident.summary",
                    "incidents.postmortem.root_cause_model", "incidents.actionitem.title",
                    "incidents.containmentaction.target", "incidents.alert.annotations.summary",
                    "governance.aisystem.intended_purpose")  # fmt: skip
    for field in every_record:
        values = [v for k, v in written.items() if k.startswith(field + "#")]
        assert values and all(v in exported for v in values), field

    # The report: every text it shows, shown whole, in HTML and in PDF.
    html = archive.read("report.html").decode()
    assert "overflow-wrap: anywhere" in html
    shown = [
        v for k, v in written.items()
        if k.split("#")[0] in {"releases.approval.comment", "releases.release.what_changed",
                               "governance.aisystem.intended_purpose", "incidents.incident.title"}
        or k == f"releases.rollbackrequest.reason#{evidence_history.drill.pk}"
    ]  # fmt: skip
    assert len(shown) >= 8
    # Kept for a person to look at: long cells continue in notes below their tables.
    (artifacts_dir / "evidence-report-longest-text.pdf").write_bytes(archive.read("report.pdf"))
    flat = pdf_text(archive.read("report.pdf"), tmp_path)
    for value in shown:
        assert escape(value) in html
        start, end = value[:4], value[-4:]
        assert start in flat and end in flat, (start, end)


NAMES = {
    "model_owner": ("Łukasz", "Wiśniewski-Żółć"),  # Polish
    "release_manager": ("Jiří", "Dvořák"),  # Czech
    "second_approver": ("Ελένη", "Παπαδοπούλου"),  # Greek
    "rollback_owner": ("Дмитрий", "Кузнецов"),  # Cyrillic
}


@pytest.mark.django_db
def test_every_eu_name_prints_in_the_pdf(client, evidence_history, key, tmp_path):
    """Polish, Czech, Greek and Cyrillic names read back from the PDF as they were written,
    and a gate check's comparison prints as its sign."""
    people = evidence_history.people
    for persona, (first, last) in NAMES.items():
        people[persona].first_name, people[persona].last_name = first, last
        people[persona].save(update_fields=["first_name", "last_name"])
    benchmark = {
        "criterion": "benchmark", "comparison": "gte", "measured_value": Decimal("0.912"),
        "target": Decimal("0.9"), "unit": "AUC", "evidence_uri": "https://example.com/eval/1.3.0",
    }  # fmt: skip
    release = submitted_release(evidence_history, gate_check=benchmark)
    with time_machine.travel(at(27, 11), tick=False):
        for approver in ("release_manager", "second_approver"):
            services.record_approval(
                actor=people[approver], release=release, decision="approve",
                comment="Ελέγχθηκε. Проверено.",
            )  # fmt: skip

    client.force_login(people["compliance"])
    data = download(client, "fraud")
    assert verify_pack(io.BytesIO(data), public_key=key.public_key()).ok
    flat = pdf_text(zipfile.ZipFile(io.BytesIO(data)).read("report.pdf"), tmp_path)
    for first, last in NAMES.values():
        assert f"{first} {last}" in flat, (first, last)
    assert "Ελέγχθηκε. Проверено." in flat
    assert "0.912 ≥ 0.9 AUC" in flat and " gte " not in flat

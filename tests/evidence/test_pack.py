"""The evidence pack: what it holds, its manifest, who may export it, and that it streams."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import zipfile
from datetime import date

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from governance import audit
from governance.audit.chain import chain_name, seal_pending
from governance.evidence import sign
from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack import formats
from governance.evidence.pack import sections as pack_sections
from governance.evidence.pack.archive import EvidencePack
from governance.evidence.pack.period import PackPeriod
from governance.evidence.pack.services import export_evidence_pack
from governance.evidence.questions import Params, answer_one
from governance.models import AuditChainHead, AuditEvent
from releases.evidence.shared import ROLLBACK_FIELDS
from releases.services import update_environment

OCTOBER = PackPeriod(date(2026, 10, 1), date(2026, 10, 31))
QUERY = "?from=2026-10-01&to=2026-10-31"


@pytest.fixture
def signing_key(settings):
    pem = sign.generate_private_pem()
    settings.EVIDENCE_SIGNING_KEY = pem.decode()
    return sign.load_private_key(pem)


def build(system, actor, period: PackPeriod = OCTOBER) -> tuple[zipfile.ZipFile, EvidencePack]:  # type: ignore[no-untyped-def]
    pack = export_evidence_pack(actor=actor, system=system, period=period)
    return zipfile.ZipFile(io.BytesIO(b"".join(pack))), pack


def rows(archive: zipfile.ZipFile, section: str) -> list[dict]:
    return json.loads(archive.read(f"{section}.json"))["rows"]


@pytest.mark.django_db
def test_it_holds_every_section_as_json_and_csv(evidence_history, compliance, signing_key):
    archive, _ = build(evidence_history.system, compliance)

    expected = {"README.txt", "audit_events.jsonl", "audit_events_after.jsonl",
                "audit_checkpoints.json", "controls.json", "questions.json",
                "report.html", "report.pdf", "manifest.json", "manifest.sig"}  # fmt: skip
    for section in pack_sections.sections():
        expected |= {f"{section.name}.json", f"{section.name}.csv"}
    documents = {f"{document.name}.json" for document in pack_sections.documents()}
    assert set(archive.namelist()) == expected | documents
    assert archive.namelist()[-2:] == ["manifest.json", "manifest.sig"]  # written last
    # Every section of the brief is there, each declaring its evidence kind.
    kinds = {json.loads(archive.read(name))["kind"] for name in expected if name.endswith(".json")
             and name not in {"controls.json", "questions.json", "manifest.json",
                              "audit_checkpoints.json"}}  # fmt: skip
    assert kinds == set(EvidenceKind.values) - {EvidenceKind.AUDIT_EVENT}


@pytest.mark.django_db
def test_the_manifest_lists_every_file_with_its_digest_and_the_chain(
    evidence_history, compliance, signing_key
):
    system = evidence_history.system
    archive, pack = build(system, compliance)
    manifest = json.loads(archive.read("manifest.json"))

    assert manifest["format"] == "failsafe-evidence-pack/2"
    assert manifest["generator"] == {"name": "failsafe", "version": "0.1.0"}
    assert manifest["system"]["slug"] == "fraud"
    assert manifest["exported_by"] == "carl"
    assert manifest["period"]["from"] == "2026-10-01" and manifest["period"]["to"] == "2026-10-31"
    assert manifest["period"]["until"] == "2026-11-01T00:00:00+00:00"
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json", "manifest.sig"}
    for path, entry in listed.items():
        content = archive.read(path)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest(), path
        assert entry["size"] == len(content), path
    assert listed["releases.json"]["rows"] == 3

    chain = manifest["audit_chain"]
    events = AuditEvent.objects.filter(
        system=system, occurred_at__gte=OCTOBER.since, occurred_at__lt=OCTOBER.until
    ).order_by("seq")
    first, last = events.first(), events.last()
    assert first is not None and last is not None
    assert chain["chain"] == chain_name(system.pk)
    assert (chain["first_seq"], chain["first_hash"]) == (first.seq, first.hash)
    assert (chain["last_seq"], chain["last_hash"]) == (last.seq, last.hash)
    assert chain["anchor_hash"] == first.prev_hash
    assert chain["events"] == last.seq - first.seq + 1 == events.count()
    head = AuditChainHead.objects.get(chain=chain_name(system.pk))
    assert (chain["head_seq"], chain["head_hash"]) == (head.seq, head.head_hash)

    signature = archive.read("manifest.sig")
    assert sign.signature_valid(archive.read("manifest.json"), signature, signing_key.public_key())
    assert manifest["signature"]["key_id"] == sign.key_id(signing_key.public_key())
    assert pack.manifest_sha256 == hashlib.sha256(archive.read("manifest.json")).hexdigest()


@pytest.mark.django_db
def test_the_sections_hold_the_history(evidence_history, compliance, signing_key):
    archive, _ = build(evidence_history.system, compliance)

    releases = rows(archive, "releases")
    assert [r["version"] for r in releases] == ["1.0.0", "1.1.0", "1.2.0"]
    assert len(releases[1]["decision_stack"]) == 6
    assert {c["kind"] for c in releases[1]["decision_stack"]} >= {"model", "threshold_policy"}
    assert all(len(c["sha256"]) == 64 for c in releases[1]["decision_stack"])
    assert releases[1]["model_card"]["why"]
    comments = {a["comment"] for a in rows(archive, "approvals")}
    assert "Threshold change reviewed against Q3 data." in comments
    plan = next(p for p in rows(archive, "rollback_plans") if p["release_version"] == "1.1.0")
    assert plan["owners"] == ["rob"] and plan["target_version"] == "1.0.0"
    assert plan["triggers"][0]["metric"] == "review_rate"
    [rollback] = rows(archive, "rollbacks")
    assert (rollback["from_release"], rollback["to_release"]) == ("1.1.0", "1.0.0")
    assert rollback["status"] == "succeeded" and rollback["requested_by"]["username"] == "rob"
    [drill] = rows(archive, "rollback_drills")
    assert drill["environment"] == "staging"
    assert {f["rollback_id"] for f in rows(archive, "forensic_records")} == {
        rollback["id"],
        drill["id"],
    }
    incidents = rows(archive, "incidents")
    assert [i["severity"] for i in incidents] == ["sev1", "sev3"]
    assert incidents[0]["rollback_ids"] == [rollback["id"]]
    assert {e["incident_id"] for e in rows(archive, "timeline_entries")} == {
        i["id"] for i in incidents
    }
    assert {a["name"] for a in rows(archive, "alerts")} >= {"ReviewRateHigh", "ScoreDrift"}
    deployments = rows(archive, "deployments")
    assert {(d["environment"], d["release_version"]) for d in deployments} >= {
        ("production", "1.0.0"), ("production", "1.1.0"), ("production", "1.2.0"),
    }  # fmt: skip

    # The CSV says the same as the JSON, row for row, times written alike.
    in_csv = next(csv.DictReader(io.StringIO(archive.read("releases.csv").decode())))
    assert in_csv["created_at"] == releases[0]["created_at"] == "2026-10-01T10:00:00Z"
    for section in pack_sections.sections():
        table = list(csv.DictReader(io.StringIO(archive.read(f"{section.name}.csv").decode())))
        assert len(table) == len(rows(archive, section.name)), section.name
        assert tuple(table[0]) == section.columns if table else True


@pytest.mark.django_db
def test_a_rollback_reads_alike_in_the_pack_and_in_the_answers(
    evidence_history, compliance, signing_key
):  # type: ignore[no-untyped-def]
    """One serialisation of a rollback: the pack's row is the monitoring answer's record."""
    archive, _ = build(evidence_history.system, compliance)
    [row] = rows(archive, "rollbacks")
    answer = answer_one(evidence_history.system, "monitoring",
                        Params(start=OCTOBER.since, end=OCTOBER.until))  # fmt: skip
    [answered] = answer["rollbacks"]
    assert answered.pop("incident") == evidence_history.incidents[0].pk
    assert row == json.loads(formats.dumps(answered))
    assert row["minutes_to_finish"] == 3.0 and row["forensic_digest"]
    header = next(csv.reader(io.StringIO(archive.read("rollbacks.csv").decode())))
    assert tuple(header) == ROLLBACK_FIELDS


@pytest.mark.django_db
def test_the_audit_events_of_the_period_are_one_chain_segment(
    evidence_history, compliance, signing_key
):
    archive, _pack = build(evidence_history.system, compliance)
    lines = archive.read("audit_events.jsonl").decode().splitlines()
    events = [json.loads(line) for line in lines]
    manifest = json.loads(archive.read("manifest.json"))

    assert len(events) == manifest["audit_chain"]["events"] > 20
    assert [e["seq"] for e in events] == list(
        range(manifest["audit_chain"]["first_seq"], manifest["audit_chain"]["last_seq"] + 1)
    )
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    stored = AuditEvent.objects.get(chain=events[0]["chain"], seq=events[0]["seq"])
    assert events[0]["occurred_at"] == stored.occurred_at.isoformat(timespec="microseconds")
    assert events[0]["after"] == stored.after


@pytest.mark.django_db
def test_each_export_is_an_audit_event(evidence_history, compliance, signing_key):
    system = evidence_history.system
    archive, _pack = build(system, compliance)
    seal_pending(chain_name(system.pk))

    event = AuditEvent.objects.filter(action="evidence.exported").get()
    assert event.actor_id == compliance.pk and event.actor_name == "carl"
    assert event.system_id == system.pk
    assert (
        event.after["manifest_sha256"] == hashlib.sha256(archive.read("manifest.json")).hexdigest()
    )
    assert event.after["period"]["from"] == "2026-10-01"
    assert event.after["period"]["to"] == "2026-10-31"


@pytest.mark.django_db
def test_an_abandoned_download_records_no_export(evidence_history, compliance, signing_key):
    pack = iter(export_evidence_pack(actor=compliance, system=evidence_history.system,
                                     period=OCTOBER))  # fmt: skip
    next(pack)
    pack.close()  # type: ignore[attr-defined]
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


SECRETS = ("hook-signing-secret-4f1c9a", "argo-token-77d2e0b5")


@pytest.mark.django_db
def test_backend_secrets_never_appear_in_a_pack(evidence_history, owner, compliance, signing_key):
    for environment, secret in zip(
        (evidence_history.production, evidence_history.staging), SECRETS, strict=True
    ):
        update_environment(
            actor=owner, environment=environment, name=environment.name,
            is_production=environment.is_production, backend_type="webhook",
            backend_config={"url": f"https://deploy.example.com/{environment.slug}"},
            backend_secrets={"signing_secret": secret},
        )  # fmt: skip
    # The change lands in the period's audit trail: its event must not carry the secret either.
    archive, _ = build(evidence_history.system, compliance, PackPeriod(date(2026, 10, 1),
                                                                       date.today()))  # fmt: skip

    assert any(b"environment.updated" in archive.read(n) for n in archive.namelist())
    for name in archive.namelist():
        content = archive.read(name)
        for secret in SECRETS:
            assert secret.encode() not in content, f"{secret} leaked into {name}"
    for secret in SECRETS:
        assert secret.encode() not in b"".join(export_evidence_pack(
            actor=compliance, system=evidence_history.system, period=OCTOBER))  # fmt: skip


def _audit_events(system, count: int) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        for i in range(count):
            audit.record_event(actor=None, action="bench.event", system=system,
                               object_type="bench", object_id=str(i), object_repr=f"event {i}",
                               after={"i": i, "note": "x" * 40})  # fmt: skip


@pytest.mark.django_db
def test_the_pack_streams_its_audit_events_in_constant_queries(
    evidence_history, compliance, signing_key, monkeypatch
):
    """More audit events mean more bytes, never more queries, and never a list in memory:
    the lines come from one COPY, handed on in blocks of bounded size."""
    from governance.evidence.pack import audit as pack_audit

    system = evidence_history.system
    period = PackPeriod(date(2026, 10, 1), date.today())
    monkeypatch.setattr(pack_audit, "BUFFER_BYTES", 4096)
    blocks: list[int] = []
    lines = pack_audit.event_lines

    def spy(segment):  # type: ignore[no-untyped-def]
        for block in lines(segment):
            blocks.append(len(block))
            yield block

    monkeypatch.setattr("governance.evidence.pack.archive.event_lines", spy)

    def queries_for_a_pack() -> tuple[int, int]:
        blocks.clear()
        with CaptureQueriesContext(connection) as queries:
            _archive, pack = build(system, compliance, period)
        assert pack.segment is not None
        return len(queries), pack.segment.events

    _audit_events(system, 10)
    small_queries, small_events = queries_for_a_pack()
    _audit_events(system, 400)
    large_queries, large_events = queries_for_a_pack()

    assert large_events >= small_events + 400
    assert large_queries == small_queries
    assert max(blocks) < 4096 + 4096 and len(blocks) > 10  # the buffer and at most one line


@pytest.mark.django_db
def test_a_period_without_events_still_makes_a_valid_pack(fraud, compliance, signing_key):
    archive, _pack = build(fraud, compliance, PackPeriod(date(2020, 1, 1), date(2020, 1, 31)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["audit_chain"]["events"] == 0
    assert archive.read("audit_events.jsonl") == b""
    assert rows(archive, "releases") == []


# --- the page and the API ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_streams_the_pack(client, evidence_history, compliance, signing_key):
    client.force_login(compliance)
    form = client.get("/systems/fraud/evidence-pack/")
    assert form.status_code == 200 and b"Download evidence pack" in form.content

    response = client.get("/systems/fraud/evidence-pack/" + QUERY)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "evidence-fraud-20261001-20261031.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "manifest.sig" in archive.namelist()
    event = AuditEvent.objects.get(action="evidence.exported", actor_id=compliance.pk)
    assert event.request_id and event.request_id == response["X-Request-ID"]


@pytest.mark.django_db
def test_the_system_page_links_to_the_pack_for_those_who_may(client, fraud, compliance, viewer):
    client.force_login(compliance)
    assert b"/systems/fraud/evidence-pack/" in client.get("/systems/fraud/").content
    client.force_login(viewer)
    assert b"/systems/fraud/evidence-pack/" not in client.get("/systems/fraud/").content


@pytest.mark.django_db
def test_the_api_streams_the_pack(client, evidence_history, compliance, signing_key):
    client.force_login(compliance)
    response = client.get("/api/systems/fraud/evidence-pack/" + QUERY)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert json.loads(archive.read("manifest.json"))["system"]["slug"] == "fraud"


BAD_PERIODS = [
    ("?from=2026-10-31&to=2026-10-01", b"ends before it starts"),
    ("?from=2026-13-01&to=2026-10-31", b"date"),
    ("?from=yesterday&to=2026-10-31", b"date"),
    ("?to=2026-10-31", b"first day"),
    ("?from=2026-10-01", b"last day"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "message"), BAD_PERIODS)
def test_a_bad_period_is_a_400_with_a_message(client, fraud, compliance, signing_key, query,
                                              message):  # fmt: skip
    client.force_login(compliance)
    page = client.get("/systems/fraud/evidence-pack/" + query)
    assert page.status_code == 400 and message in page.content.lower()
    api = client.get("/api/systems/fraud/evidence-pack/" + query)
    assert api.status_code == 400 and message in api.content.lower()
    assert api["Content-Type"] == "application/json"
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


@pytest.mark.django_db
def test_an_unknown_system_is_a_404_never_a_500(client, compliance, signing_key):
    client.force_login(compliance)
    assert client.get("/systems/nope/evidence-pack/" + QUERY).status_code == 404
    response = client.get("/api/systems/nope/evidence-pack/" + QUERY)
    assert response.status_code == 404 and b"No such AI system" in response.content


@pytest.mark.django_db
def test_without_a_signing_key_nothing_is_exported(client, fraud, compliance, settings):
    settings.EVIDENCE_SIGNING_KEY = ""
    client.force_login(compliance)
    page = client.get("/systems/fraud/evidence-pack/" + QUERY)
    assert page.status_code == 503 and b"EVIDENCE_SIGNING_KEY" in page.content
    api = client.get("/api/systems/fraud/evidence-pack/" + QUERY)
    assert api.status_code == 503 and b"EVIDENCE_SIGNING_KEY" in api.content


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["viewer", "release_manager", "oncall_lead"], indirect=True)
def test_only_compliance_officers_and_owners_may_export(persona, fraud, signing_key):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        export_evidence_pack(actor=persona, system=fraud, period=OCTOBER)


@pytest.mark.django_db
def test_the_schema_documents_the_endpoint(client, compliance):
    client.force_login(compliance)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/systems/{slug}/evidence-pack/"]["get"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to"}

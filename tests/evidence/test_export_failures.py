"""An export either completes and verifies, or fails before its first byte with a clear error,
and every failure is in the audit trail (issue 23, finding 1); an export names the credential
it was asked with (finding 11).

The failures are real: a section or a chart registered as the apps register theirs, whose
reading raises, as a broken query or a bug in a new section would.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from governance import services as governance_services
from governance.audit.chain import chain_name, seal_pending
from governance.evidence import sign
from governance.evidence.kinds import EvidenceKind
from governance.evidence.pack import sections as pack_sections
from governance.models import AuditEvent
from tests.factories import PASSWORD

QUERY = "?from=2026-10-01&to=2026-10-31"
API = "/api/systems/fraud/evidence-pack/" + QUERY
PAGE = "/systems/fraud/evidence-pack/" + QUERY

pytestmark = pytest.mark.django_db


@pytest.fixture
def signing_key(settings):  # type: ignore[no-untyped-def]
    pem = sign.generate_private_pem()
    settings.EVIDENCE_SIGNING_KEY = pem.decode()
    return sign.load_private_key(pem)


@pytest.fixture
def broken_chart() -> Iterator[None]:
    def points(system: Any, period: Any) -> list[tuple[str, float]]:
        raise RuntimeError("the chart's query failed")

    chart = pack_sections.Chart(name="zz_broken", title="Broken", unit="things", points=points)
    pack_sections.register_chart(chart)
    yield
    pack_sections._charts.pop(chart.name)


@pytest.fixture
def section_breaking_mid_stream() -> Iterator[None]:
    """Rows that read once (as the export counts them before streaming), then break half way
    through the file, after bytes have gone out."""
    calls = []

    def rows(system: Any, period: Any) -> Iterator[dict[str, Any]]:
        calls.append(1)
        yield {"id": 1}
        if len(calls) > 1:
            raise RuntimeError("the connection was lost")

    section = pack_sections.Section(
        name="zz_breaking", kind=EvidenceKind.ALERT, title="Breaking", columns=("id",),
        rows=rows, order=10_000,
    )  # fmt: skip
    pack_sections.register_section(section)
    yield
    pack_sections._sections.pop(section.name)


def failures(system) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    seal_pending(chain_name(system.pk))
    return list(AuditEvent.objects.filter(action="evidence.export_failed").order_by("seq"))


def test_the_api_answers_a_failed_export_with_json_before_any_byte(
    client, evidence_history, compliance, signing_key, broken_chart
):
    client.force_login(compliance)
    response = client.get(API)

    assert response.status_code == 500
    assert not response.streaming
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert "could not be made" in detail and response["X-Request-ID"] in detail
    [event] = failures(evidence_history.system)
    assert event.actor_id == compliance.pk
    assert event.after["reason"] == "RuntimeError: the chart's query failed"
    assert event.after["sent_bytes"] is False
    assert event.after["period"]["from"] == "2026-10-01"
    assert event.request_id == response["X-Request-ID"]
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_the_page_answers_a_failed_export_with_a_page(
    client, evidence_history, compliance, signing_key, broken_chart
):
    client.force_login(compliance)
    response = client.get(PAGE)

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"could not be made" in response.content
    assert response["X-Request-ID"].encode() in response.content
    assert len(failures(evidence_history.system)) == 1


def test_the_command_writes_nothing_when_an_export_fails(
    evidence_history, signing_key, broken_chart, tmp_path: Path
):
    output = tmp_path / "pack.zip"
    with pytest.raises(CommandError, match=r"could not be made.*RuntimeError"):
        call_command("export_evidence", "--system", "fraud", "--from", "2026-10-01", "--to",
                     "2026-10-31", "-o", str(output), stdout=io.StringIO())  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    [event] = failures(evidence_history.system)
    assert event.actor_id is None and event.credential == "manage.py export_evidence"


def test_a_stream_that_breaks_after_it_began_is_audited(
    evidence_history, compliance, signing_key, section_breaking_mid_stream
):
    from governance.evidence.pack.services import export_evidence_pack
    from tests.evidence.conftest import OCTOBER

    pack = export_evidence_pack(actor=compliance, system=evidence_history.system, period=OCTOBER)
    sent = []
    with pytest.raises(RuntimeError, match="connection was lost"):
        for chunk in pack:
            sent.append(chunk)
    assert sent  # it had begun: the bytes sent cannot be taken back, but it is told
    [event] = failures(evidence_history.system)
    assert event.after["sent_bytes"] is True
    assert event.after["reason"] == "RuntimeError: the connection was lost"
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_an_export_refused_for_want_of_a_signing_key_is_audited(
    client, evidence_history, compliance, settings
):
    settings.EVIDENCE_SIGNING_KEY = ""
    client.force_login(compliance)
    assert client.get(API).status_code == 503
    [event] = failures(evidence_history.system)
    assert "EVIDENCE_SIGNING_KEY" in event.after["reason"]


# --- finding 11: the credential --------------------------------------------------------------


def exported(client, **headers: str) -> AuditEvent:  # type: ignore[no-untyped-def]
    response = client.get(API, **headers)
    assert response.status_code == 200, response.content[:300]
    b"".join(response.streaming_content)
    return AuditEvent.objects.get(action="evidence.exported")


def test_an_export_through_an_api_token_names_the_token(
    client, evidence_history, compliance, signing_key
):
    token, secret = governance_services.create_api_token(
        actor=compliance, system=evidence_history.system, name="audit robot",
        expires_in_days=30,
    )  # fmt: skip
    event = exported(client, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert event.actor_id == compliance.pk
    assert event.credential == f"API token {token.prefix}… audit robot"


def test_an_export_through_http_basic_says_so(client, evidence_history, compliance, signing_key):
    basic = base64.b64encode(f"{compliance.username}:{PASSWORD}".encode()).decode()
    event = exported(client, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert event.actor_id == compliance.pk
    assert event.credential == "HTTP Basic (password)"


def test_an_export_from_a_signed_in_page_names_no_credential(
    client, evidence_history, compliance, signing_key
):
    client.force_login(compliance)
    assert exported(client).credential == ""

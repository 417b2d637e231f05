"""A deployment backend's secret, set through the service and used for a real rollout and
rollback, is found nowhere but where it must be: not in the logs, the API, the pages, the
audit trail or an evidence pack, and not in plain text in any row of the database."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from governance.audit.chain import chain_name, seal_pending
from governance.evidence import sign
from governance.evidence.pack.period import PackPeriod
from governance.evidence.pack.services import export_evidence_pack
from governance.models import AuditEvent
from releases import rollbacks
from releases.models import BackendType, Environment, RollbackStatus
from releases.services import update_environment


@pytest.fixture
def secret(webhook_receiver) -> str:
    # The receiver verifies every call against it: a wrong or missing secret fails the run.
    return webhook_receiver.secret


@pytest.fixture
def webhook_production(production, owner, webhook_receiver, secret) -> Environment:
    """Production pointed at the receiver, its signing secret set through the service."""
    return update_environment(
        actor=owner, environment=production, name=production.name, is_production=True,
        backend_type=BackendType.WEBHOOK, backend_config=webhook_receiver.backend_config(),
        backend_secrets={"signing_secret": secret},
    )  # fmt: skip


@pytest.fixture
def all_logs(caplog) -> pytest.LogCaptureFixture:
    """Every record of every logger, DEBUG and up, whatever LOGGING says about levels."""
    names = [None, *logging.root.manager.loggerDict]
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _api_and_pages(client, *, system, environment, releases, rollback) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    slug = system.slug
    paths = [
        "/api/environments/",
        f"/api/environments/{environment.pk}/",
        f"/api/environments/?system={slug}",
        "/api/systems/",
        f"/api/systems/{slug}/",
        f"/api/systems/{slug}/gate-policy/",
        f"/api/systems/{slug}/evidence/",
        f"/api/systems/{slug}/evidence/coverage/",
        "/api/releases/?limit=500",
        *(f"/api/releases/{release.pk}/" for release in releases),
        "/api/rollbacks/",
        f"/api/rollbacks/{rollback.pk}/",
        "/api/audit-events/?limit=1000",
        "/api/schema/",
        f"/systems/{slug}/",
        f"/systems/{slug}/environments/",
        *(f"/releases/{release.pk}/" for release in releases),
        "/audit/",
    ]
    answers = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        answers[path] = response.content
    # The edit form comes back with an error: it must not be filled with the stored secrets.
    edit = f"/systems/{slug}/environments/{environment.pk}/"
    response = client.post(
        edit, {"name": "", "backend_type": environment.backend_type, "backend_secrets": ""}
    )
    assert response.status_code == 400, response.status_code
    answers[f"POST {edit}"] = response.content
    return answers


@pytest.mark.django_db
def test_a_backend_secret_appears_nowhere_but_encrypted(  # type: ignore[no-untyped-def]
    webhook_production, successor, live_release, secret, webhook_receiver, all_logs, client,
    owner, rollback_owner, compliance, settings,
):  # fmt: skip
    # A rollout (the successor went live through the receiver) and a rollback, both signed.
    request, _ = rollbacks.request_rollback(
        actor=rollback_owner, environment=webhook_production, reason="Review rate tripled"
    )
    assert rollbacks.run_rollback(request_id=request.pk).status == RollbackStatus.SUCCEEDED
    posts = [call for call in webhook_receiver.calls if call.method == "POST"]
    assert {json.loads(call.body)["action"] for call in posts} >= {"deploy", "rollback"}
    assert all(call.signature_ok for call in posts)  # the secret really was used

    # Logs of all of it, every logger at DEBUG.
    assert all_logs.records, "nothing was logged: the capture is not working"
    assert secret not in all_logs.text
    assert not any(secret in str(record.__dict__) for record in all_logs.records)

    # Every API answer and page that shows the environment, its system, releases, rollbacks.
    client.force_login(owner)
    answers = _api_and_pages(
        client, system=webhook_production.system, environment=webhook_production,
        releases=[live_release, successor], rollback=request,
    )  # fmt: skip
    assert [path for path, body in answers.items() if secret.encode() in body] == []
    environment_json = client.get(f"/api/environments/{webhook_production.pk}/").json()
    assert "signing_secret" not in json.dumps(environment_json.get("backend_config", {}))

    # The audit trail: before and after of every event, and everything else they hold.
    seal_pending(chain_name(webhook_production.system_id))
    events = list(AuditEvent.objects.values())
    assert any(event["action"] == "environment.updated" for event in events)
    assert secret not in json.dumps(events, default=str)

    # An evidence pack of the period, every file in it.
    settings.EVIDENCE_SIGNING_KEY = sign.generate_private_pem().decode()
    today = timezone.now().date()
    pack = export_evidence_pack(
        actor=compliance, system=webhook_production.system,
        period=PackPeriod(today - timedelta(days=1), today + timedelta(days=1)),
    )  # fmt: skip
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pack)))
    assert "audit_events.jsonl" in archive.namelist()
    assert [name for name in archive.namelist() if secret.encode() in archive.read(name)] == []

    # The column holds ciphertext, and no row of any table holds the secret in plain text.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT backend_secrets::text FROM releases_environment WHERE id = %s",
            [webhook_production.pk],
        )
        (stored,) = cursor.fetchone()
        # Each value is a Fernet token; the names stay readable (the audit trail lists them).
        assert secret not in stored
        assert json.loads(stored)["signing_secret"].startswith("gAAAAA")
        leaking = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(
                f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s', [f"%{secret}%"]
            )
            if cursor.fetchone()[0]:
                leaking.append(table)
    assert leaking == []
    webhook_production.refresh_from_db()
    assert webhook_production.backend_secrets == {"signing_secret": secret}  # decrypts back

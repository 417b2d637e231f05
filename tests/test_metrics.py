"""/metrics: django-prometheus's request metrics and the app's own, read from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from governance.audit.chain import seal_all
from governance.models import AuditEvent
from releases import rollbacks
from tests.factories import OpenIncidentFactory, SubmittedReleaseFactory


def scrape(client, **extra) -> dict[str, dict[tuple, float]]:  # type: ignore[no-untyped-def]
    """{sample name: {sorted label pairs: value}} from a parsed exposition."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels) -> float:  # type: ignore[no-untyped-def]
    return samples[name][tuple(sorted(labels.items()))]


def ask(actor, environment):  # type: ignore[no-untyped-def]
    request, _ = rollbacks.request_rollback(
        actor=actor, environment=environment, reason="Review rate tripled"
    )
    return request


@pytest.fixture
def activity(successor, production, rollback_owner, oncall_lead, fraud, model_owner):
    """Through the services: a rollback that failed after 3 s, one verified after 45 s, two
    open incidents (SEV1, SEV2) and one closed-free release waiting in review."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        failed = ask(rollback_owner, production)
    with time_machine.travel(start + timedelta(seconds=3), tick=False):
        rollbacks.fail_rollback(request_id=failed.pk, error="backend said no")
    with time_machine.travel(start + timedelta(seconds=10), tick=True):
        verified = ask(rollback_owner, production)
    with time_machine.travel(start + timedelta(seconds=55), tick=True):
        rollbacks.run_rollback(request_id=verified.pk)
    for severity in ("sev1", "sev2"):
        OpenIncidentFactory(
            actor=oncall_lead, system=fraud, environment=production, title=f"{severity} alarm",
            severity=severity, category="performance",
        )  # fmt: skip
    SubmittedReleaseFactory(  # waiting in review
        system=fraud, actor=model_owner, version="3.0.0", environment=production,
        rollback_owners=[rollback_owner], manual_plan=True,
    )  # fmt: skip
    return {"failed": failed, "verified": verified}


@pytest.mark.django_db
def test_it_exposes_the_apps_own_metrics_from_the_database(client, activity):
    samples = scrape(client)

    assert value(samples, "failsafe_rollback_requests", status="failed") == 1
    assert value(samples, "failsafe_rollback_requests", status="succeeded") == 1
    assert value(samples, "failsafe_rollback_requests", status="requested") == 0
    hist = "failsafe_rollback_duration_seconds"
    assert value(samples, f"{hist}_bucket", status="failed", le="2.0") == 0
    assert value(samples, f"{hist}_bucket", status="failed", le="5.0") == 1
    assert value(samples, f"{hist}_count", status="failed") == 1
    assert value(samples, f"{hist}_sum", status="failed") == pytest.approx(3.0)
    assert value(samples, f"{hist}_bucket", status="succeeded", le="30.0") == 0
    assert value(samples, f"{hist}_bucket", status="succeeded", le="60.0") == 1
    assert value(samples, f"{hist}_bucket", status="succeeded", le="+Inf") == 1
    assert 45 <= value(samples, f"{hist}_sum", status="succeeded") < 50

    assert value(samples, "failsafe_open_incidents", severity="sev1") == 1
    assert value(samples, "failsafe_open_incidents", severity="sev2") == 1
    assert value(samples, "failsafe_open_incidents", severity="sev4") == 0
    assert value(samples, "failsafe_pending_approvals") == 1


@pytest.mark.django_db
def test_the_sealed_events_counter_counts_what_the_sealer_sealed(client, activity):
    written = AuditEvent.objects.count()
    before = scrape(client)
    assert value(before, "failsafe_audit_events_unsealed") == written  # no commit in this test
    assert value(before, "failsafe_audit_events_sealed_total") == 0
    assert value(before, "failsafe_audit_seal_lag_seconds") > 0

    seal_all()
    after = scrape(client)

    assert value(after, "failsafe_audit_events_sealed_total") == written
    assert value(after, "failsafe_audit_events_unsealed") == 0
    assert value(after, "failsafe_audit_seal_lag_seconds") == 0


@pytest.mark.django_db
def test_the_seal_lag_is_the_age_of_the_oldest_unsealed_event(client, fraud):
    from django.db import transaction

    from governance import audit

    seal_all()
    with time_machine.travel(timezone.now() - timedelta(minutes=10)), transaction.atomic():
        audit.record_event(actor=None, action="system.checked", system=fraud)
    audit.record_event(actor=None, action="system.checked", system=fraud)

    samples = scrape(client)
    assert 600 <= value(samples, "failsafe_audit_seal_lag_seconds") < 660
    assert value(samples, "failsafe_audit_events_unsealed") == 2


@pytest.mark.django_db
def test_build_info_names_the_version_and_the_commit(client, settings):
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    samples = scrape(client)

    ((labels, one),) = samples["failsafe_build_info"].items()
    assert one == 1
    assert dict(labels)["version"] == version
    assert dict(labels)["commit"]  # the deployment's FAILSAFE_COMMIT, else the checkout's


@pytest.fixture
def waiting_tasks(settings):
    """Three tasks in a queue no worker of the suite takes, on the suite's Redis broker."""
    from redis import Redis

    from config.celery import app
    from config.redis_urls import redis_url_of_broker

    settings.ROLLBACK_QUEUE = "metrics-depth-test"
    for _ in range(3):
        app.send_task("governance.tasks.seal_audit_chains", queue="metrics-depth-test")
    with Redis.from_url(redis_url_of_broker(settings.CELERY_BROKER_URL)) as broker:
        yield 3
        broker.delete("metrics-depth-test")


@pytest.mark.django_db
def test_queue_depth_is_read_from_the_redis_broker(client, waiting_tasks):
    samples = scrape(client)

    assert value(samples, "failsafe_broker_queue_messages", queue="metrics-depth-test") == 3
    assert ("queue", "celery") in {
        label for labels in samples["failsafe_broker_queue_messages"] for label in labels
    }


@pytest.mark.django_db
def test_other_brokers_leave_the_queue_depth_out_without_an_error(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    assert "failsafe_broker_queue_messages" not in scrape(client)

    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path / 'gone.sock'}"  # a Redis that is down
    samples = scrape(client)
    assert "failsafe_broker_queue_messages" not in samples
    assert "failsafe_pending_approvals" in samples  # the rest is served


# The client library's own families, exposed without the application's prefix.
CLIENT_DEFAULTS = ("process_", "python_")


@pytest.mark.django_db
def test_every_exposed_family_follows_prometheus_naming(client, activity):
    client.get("/healthz")  # the request metrics have samples
    response = client.get("/metrics")
    families = list(text_string_to_metric_families(response.content.decode()))
    assert len(families) > 10

    for family in families:
        names = {sample.name for sample in family.samples}
        assert family.name.startswith(("failsafe_", *CLIENT_DEFAULTS)), family.name
        if family.type == "counter":
            # The parser gives a counter's family name without its _total; the samples have it.
            assert all(n.endswith(("_total", "_created")) for n in names), (family.name, names)
        else:
            assert not family.name.endswith("_total"), f"{family.type} {family.name} ends in _total"
        if family.type == "info" or family.name.endswith("_info"):
            assert family.type in ("gauge", "info") and all(s.value == 1 for s in family.samples)
        own = family.name.startswith("failsafe_") and not family.name.startswith("failsafe_django_")
        if own and family.type in ("histogram", "summary"):
            assert family.name.endswith(("_seconds", "_bytes")), f"{family.name} has no unit"


@pytest.mark.django_db
def test_request_metrics_come_from_django_prometheus(client, activity):
    client.get("/healthz")
    samples = scrape(client)

    responses = samples["failsafe_django_http_responses_total_by_status_total"]
    assert responses[(("status", "200"),)] >= 1
    assert "failsafe_django_http_requests_latency_seconds_by_view_method_bucket" in samples


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_whatever_the_data(client, fraud, oncall_lead, activity):
    with CaptureQueriesContext(connection) as small:
        scrape(client)
    for n in range(12):
        OpenIncidentFactory(
            actor=oncall_lead, system=fraud, environment=None, title=f"alarm {n}",
            severity="sev3", category="drift",
        )  # fmt: skip
    with CaptureQueriesContext(connection) as large:
        samples = scrape(client)

    assert value(samples, "failsafe_open_incidents", severity="sev3") == 12
    assert len(large) == len(small) == 6  # audit 2, rollbacks 3, incidents 1 (none: build, queues)


# --- who may scrape ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_loopback_may_scrape_without_signing_in(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_other_addresses_are_refused(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert b"failsafe_" not in response.content


@pytest.mark.django_db
def test_a_request_forwarded_by_a_proxy_needs_the_token(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 403


@pytest.mark.django_db
def test_allowed_networks_come_from_the_settings(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_the_bearer_token_opens_it_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "scrape-me-0123456789"
    far = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}

    assert scrape(client, HTTP_AUTHORIZATION="Bearer scrape-me-0123456789", **far)
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-0000000000", **far)
    assert wrong.status_code == 403
    assert client.get("/metrics", **far).status_code == 403


@pytest.mark.django_db
def test_no_token_configured_means_no_token_accepted(client, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


@pytest.mark.django_db
def test_metrics_are_read_only(client):
    assert client.post("/metrics").status_code == 405


@pytest.mark.django_db
def test_gunicorns_multiprocess_mode_still_serves_the_apps_own_metrics(
    client, monkeypatch, tmp_path
):
    # With PROMETHEUS_MULTIPROC_DIR the request metrics are summed from the workers' files
    # (none here); the database's metrics come along unchanged.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)

    assert value(samples, "failsafe_pending_approvals") == 0
    assert "failsafe_open_incidents" in samples

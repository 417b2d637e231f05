"""The new fields of metric analysis at their caps and beyond, through the API and the pages:
every text at its cap in any script is taken, one character more is a clear 4xx, a success
condition that does not parse is refused at save with what was expected, and a refusal
changes nothing."""

from __future__ import annotations

import pytest

from governance.limits import NAME, QUERY
from governance.models import AuditEvent
from releases.models import (
    Environment,
    RollbackPlan,
    RollbackTrigger,
    RolloutStep,
    StageAnalysis,
)
from tests.releases.plan_form import trigger_rows

pytestmark = pytest.mark.django_db

# One character each, one to four bytes: a cap counts characters, whatever the script.
SCRIPTS = {"latin": "e", "greek": "λ", "cjk": "字", "emoji": "😀"}


def at_cap(cap: int, script: str) -> str:
    return "up" + SCRIPTS[script] * (cap - 2)


@pytest.fixture
def watched(production) -> Environment:  # type: ignore[no-untyped-def]
    Environment.objects.filter(pk=production.pk).update(prometheus_url="http://127.0.0.1:9090")
    production.refresh_from_db()
    return production


def _plan(*triggers, **fields):  # type: ignore[no-untyped-def]
    return {"environment": "production", "owners": ["rob"], "mode": "automatic",
            "triggers": list(triggers), **fields}  # fmt: skip


def _promql(query: str, **fields):  # type: ignore[no-untyped-def]
    return {"query": query, "comparison": "gt", "threshold": "0.05", "window_minutes": 5,
            **fields}  # fmt: skip


def _put_plan(client, release, body):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/releases/{release.pk}/rollback-plan/", body, content_type="application/json"
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_promql_trigger_at_its_cap_is_taken_and_one_more_is_refused(
    client, model_owner, rollback_owner, draft, watched, script
):
    client.force_login(model_owner)
    query = at_cap(QUERY, script)
    response = _put_plan(client, draft, _plan(_promql(query), advance_on_analysis=True))
    assert response.status_code == 200, response.content
    assert response.json()["triggers"][0]["query"] == query
    assert response.json()["advance_on_analysis"] is True
    trigger = RollbackTrigger.objects.get(plan__release=draft)
    assert trigger.query == query and trigger.metric == query[:119] + "…"

    events = AuditEvent.objects.count()
    response = _put_plan(client, draft, _plan(_promql(query + SCRIPTS[script])))
    assert response.status_code == 400
    assert "2000" in str(response.json())
    assert RollbackTrigger.objects.get(plan__release=draft).query == query  # unchanged
    assert AuditEvent.objects.count() == events


def test_a_promql_trigger_needs_the_environments_prometheus(
    client, model_owner, rollback_owner, draft, production
):
    client.force_login(model_owner)
    response = _put_plan(client, draft, _plan(_promql("sum(rate(errors_total[5m]))")))
    assert response.status_code == 400
    assert "Prometheus URL" in str(response.json()["triggers"])
    assert not RollbackPlan.objects.filter(release=draft).exists()


def test_a_trigger_names_a_metric_or_gives_a_query(
    client, model_owner, rollback_owner, draft, watched
):
    client.force_login(model_owner)
    response = _put_plan(
        client, draft, _plan({"comparison": "gt", "threshold": "1", "window_minutes": 5})
    )
    assert response.status_code == 400
    assert not RollbackPlan.objects.filter(release=draft).exists()


def _promote(client, release, **analysis):  # type: ignore[no-untyped-def]
    body = {"environment": "production", "stage": "shadow", "traffic_percent": "5",
            "analysis": {"query": "error_ratio", "success_condition": "result < 0.05",
                         **analysis}}  # fmt: skip
    return client.post(
        f"/api/releases/{release.pk}/promotions/", body, content_type="application/json"
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_analysis_at_its_caps_is_taken(client, release_manager, approved, watched, script):
    client.force_login(release_manager)
    query = at_cap(QUERY, script)
    condition = "result < 0.05" + " " * 0
    response = _promote(client, approved, query=query, success_condition=condition, count=3)
    assert response.status_code == 202, response.content
    analysis = StageAnalysis.objects.get()
    assert (analysis.query, analysis.count) == (query, 3)
    assert response.json()["analysis"]["status"] == "running"


@pytest.mark.parametrize(
    ("analysis", "field", "says"),
    [
        ({"success_condition": "result <"}, "success_condition", "ends too soon"),
        ({"success_condition": "os.system('x')"}, "success_condition", "cannot be read"),
        ({"success_condition": "result < 0.05 " + "x" * NAME}, "success_condition", "200"),
        ({"query": "q" * (QUERY + 1)}, "query", "2000"),
        ({"count": 3, "failure_limit": 3}, "analysis", "below the count"),
        ({"interval_seconds": 0}, "interval_seconds", "greater than or equal to 1"),
        ({"count": 101}, "count", "less than or equal to 100"),
    ],
)
def test_a_bad_analysis_is_refused_at_save_and_nothing_changes(
    client, release_manager, approved, watched, analysis, field, says
):
    client.force_login(release_manager)
    events = AuditEvent.objects.count()
    response = _promote(client, approved, **analysis)
    assert response.status_code == 400, response.content
    assert says in str(response.json())
    assert field in str(response.json())
    assert not RolloutStep.objects.exists() and not StageAnalysis.objects.exists()
    assert AuditEvent.objects.count() == events


def test_the_environment_api_takes_the_prometheus_and_never_returns_its_token(
    client, owner, production
):
    client.force_login(owner)
    url = f"/api/environments/{production.pk}/"
    token = "prom-" + "字" * 100
    response = client.patch(
        url, {"prometheus_url": "https://prometheus.example.com", "prometheus_token": token},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["prometheus_url"] == "https://prometheus.example.com"
    assert body["prometheus_token_set"] is True and "prometheus_token" not in body
    production.refresh_from_db()
    assert production.prometheus_secrets == {"token": token}
    event = AuditEvent.objects.filter(action="environment.updated").latest("id")
    assert token not in str(event.after) and event.after["prometheus_token_set"] is True

    for bad in (
        {"prometheus_url": "ftp://prometheus.example.com"},
        {"prometheus_url": "https://" + "p" * 500},
        {"prometheus_token": "t" * 4097},
        {"prometheus_token": "line\nbreak"},
    ):
        response = client.patch(url, bad, content_type="application/json")
        assert response.status_code == 400, (bad, response.content)
    production.refresh_from_db()
    assert production.prometheus_url == "https://prometheus.example.com"
    assert production.prometheus_secrets == {"token": token}


def test_the_plan_form_takes_promql_lines_and_refuses_what_it_cannot_read(
    client, model_owner, rollback_owner, draft, watched
):
    client.force_login(model_owner)
    form = {
        "environment": watched.pk, "owners": [rollback_owner.pk], "mode": "automatic",
        "cooldown_minutes": "30", "advance_on_analysis": "on",
        **trigger_rows(
            ("review_rate", "gt", "2.5", "15"),
            ("error_ratio", "sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))",
             "gt", "0.05", "5"),
            ("", "job:latency:p95", "gte", "0.3", "10"),
        ),
    }  # fmt: skip
    response = client.post(f"/releases/{draft.pk}/plan/", form)
    assert response.status_code == 302
    triggers = list(RollbackTrigger.objects.filter(plan__release=draft))
    assert [(t.metric, t.query, t.comparison, t.window_minutes) for t in triggers] == [
        ("review_rate", "", "gt", 15),
        ("error_ratio", "sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))", "gt", 5),
        ("job:latency:p95", "job:latency:p95", "gte", 10),
    ]
    assert draft.rollback_plan.advance_on_analysis is True
    page = client.get(f"/releases/{draft.pk}/").content.decode()
    assert "error_ratio: sum(rate(errors_total[5m]))" in page  # the form shows them back

    response = client.post(
        f"/releases/{draft.pk}/plan/", {**form, **trigger_rows(("", "", "gt", "0.05", "5"))}
    )
    assert response.status_code == 400
    assert "Give the PromQL query." in response.content.decode()
    assert RollbackTrigger.objects.filter(plan__release=draft).count() == 3  # unchanged


def test_the_promotion_form_refuses_a_condition_it_cannot_read(
    client, release_manager, approved, watched
):
    client.force_login(release_manager)
    form = {"environment": watched.pk, "stage": "shadow", "traffic_percent": "5",
            "analysis_query": "error_ratio", "success_condition": "result <> 1"}  # fmt: skip
    response = client.post(f"/releases/{approved.pk}/promotions/", form)
    assert response.status_code == 400
    assert "success condition" in response.content.decode().lower()
    assert not RolloutStep.objects.exists()

    form["success_condition"] = ""
    response = client.post(f"/releases/{approved.pk}/promotions/", form)
    assert response.status_code == 400
    assert "Say when a measurement passes" in response.content.decode()

    form["success_condition"] = "result < 0.05"
    response = client.post(f"/releases/{approved.pk}/promotions/", form)
    assert response.status_code == 302
    assert StageAnalysis.objects.get().count == 5  # the defaults for what was left empty


def test_the_analysis_panel_answers_in_a_fixed_number_of_queries(
    client, viewer, approved, watched, release_manager, django_assert_max_num_queries
):
    from unittest import mock

    from releases import services
    from releases.services import rollouts

    with mock.patch.object(rollouts, "send_step"):
        step = services.promote_release(
            actor=release_manager, release=approved, environment=watched, stage="shadow",
            traffic_percent=5, analysis={"query": "error_ratio",
                                         "success_condition": "result < 0.05"},
        )  # fmt: skip
    client.force_login(viewer)
    with django_assert_max_num_queries(10):
        response = client.get(f"/releases/{approved.pk}/analysis/")
    assert response.status_code == 200
    assert "Waiting for the step" in response.content.decode()
    assert step.analysis.pk


@pytest.mark.parametrize("threshold", ["1e30", "0.0000001", "-100000000000000"])
def test_a_threshold_beyond_its_column_is_a_clear_400_on_the_page(
    client, model_owner, rollback_owner, draft, watched, threshold
):
    client.force_login(model_owner)
    form = {"environment": watched.pk, "owners": [rollback_owner.pk], "mode": "automatic",
            "cooldown_minutes": "30",
            **trigger_rows(("ratio", "job:errors:ratio5m", "gt", threshold, "5"))}  # fmt: skip
    response = client.post(f"/releases/{draft.pk}/plan/", form)
    assert response.status_code == 400
    assert "14 digits" in response.content.decode()
    assert not RollbackPlan.objects.filter(release=draft).exists()

"""The rollback plan's form: triggers as rows of fields with the rule they make, and a
target among the releases that can be one (live in the environment now or before, not rolled
back), which the service holds to as well."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from releases import services
from releases.models import Release, RollbackPlan
from tests.releases.plan_form import plan_form, trigger_rows

pytestmark = pytest.mark.django_db


def _target_options(html: str) -> list[str]:
    select = re.search(r'<select name="target_release"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


def test_each_trigger_row_shows_the_rule_it_makes(
    client, model_owner, draft, production, rollback_owner
):
    client.force_login(model_owner)
    rows = trigger_rows(
        ("p95_latency_ms", "gt", "300", "5"),
        ("error_ratio", "job:errors:ratio5m", "gte", "0.0137", "10"),
    )
    production.prometheus_url = "https://prometheus.example.com"
    production.save()
    response = client.post(
        f"/releases/{draft.pk}/plan/", plan_form(production, [rollback_owner], **rows)
    )
    assert response.status_code == 302
    triggers = list(draft.rollback_plan.triggers.all())
    assert [(t.metric, t.query, t.comparison, t.threshold) for t in triggers] == [
        ("p95_latency_ms", "", "gt", Decimal("300")),
        ("error_ratio", "job:errors:ratio5m", "gte", Decimal("0.0137")),
    ]
    html = client.get(f"/releases/{draft.pk}/").content.decode()
    assert "p95_latency_ms &gt; 300 for 5 min" in html  # the row's preview, as saved
    assert "error_ratio: job:errors:ratio5m ≥ 0.0137 for 10 min" in html
    assert 'value="300"' in html and 'value="0.0137"' in html  # thresholds as typed
    assert 'name="trigger-TOTAL_FORMS" value="4"' in html  # the two, and two empty rows


def test_a_new_plan_opens_on_production_and_the_only_rollback_owner(
    client, model_owner, draft, staging, production, rollback_owner
):
    client.force_login(model_owner)
    html = client.get(f"/releases/{draft.pk}/").content.decode()
    assert re.search(rf'<option value="{production.pk}" selected>Production</option>', html)
    assert re.search(rf'value="{rollback_owner.pk}"[^>]*checked', html)


def test_the_target_offers_only_releases_that_can_be_one(
    client, model_owner, successor, earlier, make_release, production
):
    never_live = make_release("2.9.0")  # a draft: it never ran anywhere
    candidate = make_release("3.0.0")
    Release.objects.filter(pk=successor.pk).update(status="rolled_back")
    client.force_login(model_owner)
    options = _target_options(client.get(f"/releases/{candidate.pk}/").content.decode())
    offered = " ".join(options)
    assert "2.0.0" in offered and "1.9.0" in offered  # live now, and live before
    assert "2.1.0" not in offered  # rolled back
    assert never_live.version not in offered and "3.0.0" not in offered


def test_the_service_refuses_a_target_that_never_ran_there(
    model_owner, live_release, make_release, production, rollback_owner
):
    never_live = make_release("2.9.0")
    candidate = make_release("3.0.0")
    with pytest.raises(ValidationError) as refused:
        services.save_rollback_plan(
            actor=model_owner, release=candidate, environment=production,
            owners=[rollback_owner], mode="manual", cooldown_minutes=30, triggers=[],
            target_release=never_live,
        )  # fmt: skip
    assert "live in Production now or before" in str(refused.value.message_dict)
    assert not RollbackPlan.objects.filter(release=candidate).exists()
    saved = services.save_rollback_plan(
        actor=model_owner, release=candidate, environment=production, owners=[rollback_owner],
        mode="manual", cooldown_minutes=30, triggers=[], target_release=live_release,
    )  # fmt: skip
    assert saved.target_release == live_release


def test_the_service_refuses_a_rolled_back_target(
    model_owner, successor, make_release, production, rollback_owner
):
    Release.objects.filter(pk=successor.pk).update(status="rolled_back")
    successor.refresh_from_db()
    candidate = make_release("3.0.0")
    with pytest.raises(ValidationError, match="not rolled back"):
        services.save_rollback_plan(
            actor=model_owner, release=candidate, environment=production,
            owners=[rollback_owner], mode="manual", cooldown_minutes=30, triggers=[],
            target_release=successor,
        )  # fmt: skip


def test_a_tampered_trigger_row_is_refused_in_words(
    client, model_owner, draft, production, rollback_owner
):
    rows = trigger_rows(("p95_latency_ms", "gt", "300", "5"))
    rows["trigger-0-kind"], rows["trigger-0-comparison"] = "shell", "eq"
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/plan/", plan_form(production, [rollback_owner], **rows)
    )
    assert response.status_code == 400
    assert response.content.decode().count("Select a valid choice") == 2
    assert not RollbackPlan.objects.filter(release=draft).exists()

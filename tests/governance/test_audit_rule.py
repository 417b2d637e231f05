"""The rule the page cache rests on (governance/pagecache.py), written down: every service
that changes what a system's pages show, or who may see them, writes an audit event to that
system's chain (`AuditEvent.system`, chain `system:<id>`), in its own transaction.

The services are found, not listed: every public function (no leading `_`) defined, not
imported, in the modules of the packages `governance.services`, `releases.services`,
`releases.rollbacks` and `incidents.services`. Each is either called in CASES, on a world
built from the suite's fixtures, and must then have written an event whose system is the one
it acted on; or named in EXEMPT, with why it writes none (it only reads, it is a step its
caller records, it changes nothing a page shows). A new service in neither fails
`test_every_service_is_held_to_the_rule`: add it to one of the two.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from governance import services as governance
from governance.models import AISystem, AuditEvent, RoleGrant
from governance.roles import Role
from incidents import services as incidents
from incidents.models import EntryKind
from incidents.services import drift as incident_drift
from incidents.services import lifecycle, rollback, timeline, triggers
from incidents.services.alert_tokens import create_alert_token, revoke_alert_token
from incidents.services.alerts import IncomingAlert
from incidents.services.alerts.declare import declare_from_alert
from incidents.services.alerts.environments import match_environment
from incidents.services.alerts.storm import Post, join_storm
from releases import drift, rollbacks
from releases import services as releases
from releases.intake.registry import ModelVersionFacts, Registry
from releases.models import (
    AnalysisStatus,
    GateCriterion,
    RegistryVersion,
    Release,
    RollbackRequest,
    RollbackStatus,
    RolloutStep,
    StageAnalysis,
)
from releases.rollbacks import outcome, plan_triggers, records
from releases.services import analysis as analysis_services
from releases.services import drills, intake, promql_triggers, registration, rollouts
from tests.factories import UserFactory
from tests.fixtures.releases import CARD, go_live, rollbacks_held, stack

pytestmark = pytest.mark.django_db

ROOTS = (
    "governance.services", "releases.services", "releases.rollbacks", "releases.drift",
    "incidents.services",
)  # fmt: skip


def _modules(root: str) -> Iterator[ModuleType]:
    module = importlib.import_module(root)
    yield module
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{root}."):
        yield importlib.import_module(info.name)


def discovered_services() -> set[str]:
    """Every public function defined (not imported) in the services modules, dotted."""
    return {
        f"{module.__name__}.{name}"
        for root in ROOTS
        for module in _modules(root)
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    }


# --- the world -------------------------------------------------------------------------


class World:
    """The suite's fixtures by name (`world.fraud`, `world.successor`), each built when first
    asked for. A case builds what it needs before it hands over its call: asked for after
    that, a fixture's own audit events would count as the service's, so it is refused."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._ready = False

    def __getattr__(self, name: str) -> Any:
        if self._ready:
            raise AssertionError(f"{name}: build the world before the call, not in it")
        return self._request.getfixturevalue(name)


@pytest.fixture
def incident(oncall_lead, fraud, live_release, production):  # type: ignore[no-untyped-def]
    """The suite's `incident` (tests/fixtures/incidents.py): open, in production."""
    return incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, title="Review rate tripled",
        severity="sev2", category="performance",
    )  # fmt: skip


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    return World(request)


def firing(**changes: Any) -> IncomingAlert:
    payload = {
        "name": "ReviewRateHigh",
        "severity": "critical",
        "environment": "production",
        "labels": {"metric": "review_rate"},
        "annotations": {"value": "3.1", "summary": "Review rate above budget"},
        **changes,
    }
    return incidents.parse_generic(payload)[0]


def requested(w: World, **options: Any) -> RollbackRequest:
    """A rollback of production (2.1.0 back to 2.0.0), recorded and held from the broker."""
    _, production, rollback_owner = w.successor, w.production, w.rollback_owner
    with rollbacks_held():
        request, _ = rollbacks.request_rollback(
            actor=options.pop("actor", rollback_owner), environment=production,
            reason="Review rate tripled", **options,
        )  # fmt: skip
    return request


def running(w: World) -> RollbackRequest:
    request = requested(w)
    RollbackRequest.objects.filter(pk=request.pk).update(status=RollbackStatus.RUNNING)
    return request


def proposed(w: World) -> RollbackRequest:
    return requested(w, actor=None, propose=True, trigger={"metric": "review_rate"})


def finished_drill(w: World) -> RollbackRequest:
    """A drill in staging (2.1.0 back to 2.0.0) that failed, with 2.2.0 awaiting a decision."""
    live, staging, manager, owner = w.live_release, w.staging, w.release_manager, w.rollback_owner
    go_live(live, manager, staging)  # before 2.1.0 supersedes it
    go_live(w.successor, manager, staging)
    w.make_release("2.2.0")
    with rollbacks_held():
        drill, _ = rollbacks.request_rollback(
            actor=owner, environment=staging, reason="Quarterly drill", drill=True
        )
    return rollbacks.fail_rollback(request_id=drill.pk, error="deploy hook answered 500")


def serious(w: World, **regime: str) -> Any:
    incident, lead, owner, fraud = w.incident, w.oncall_lead, w.owner, w.fraud
    if regime:
        governance.update_system(
            actor=owner, system=fraud, name=fraud.name, slug=fraud.slug,
            intended_purpose=fraud.intended_purpose, risk_category=fraud.risk_category,
            **regime,
        )  # fmt: skip
    return incidents.classify_serious(
        actor=lead, incident=incident, harm_categories=["property_or_environment"]
    )


def ingested_early(w: World) -> Any:
    """An alert over the plan's trigger for 5 of its 15 minutes: 1.9.0 can be put back."""
    fraud, _ = w.fraud, w.earlier
    alert = firing(starts_at=(timezone.now() - timedelta(minutes=5)).isoformat())
    return incidents.ingest_alert(system=fraud, alert=alert).incident


LATER = timedelta(minutes=11)  # the trigger has held its window by then

# --- the calls -------------------------------------------------------------------------

# A case builds its world, then returns the call and the system whose chain must grow;
# RETURNED where the call creates the system (its result is then the system).
RETURNED = None
Called = tuple[Callable[[], Any], AISystem | None]
Case = Callable[[World], Called]

CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(build: Case) -> Case:
        CASES[name] = build
        return build

    return register


# governance


@case("governance.services.systems.create_system")
def _create_system(w: World) -> Called:
    registrar = w.registrar
    return lambda: governance.create_system(
        actor=registrar, name="Loan scoring", intended_purpose="Scores loans.",
        risk_category="high",
    ), RETURNED  # fmt: skip


@case("governance.services.systems.update_system")
def _update_system(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: governance.update_system(
        actor=owner, system=fraud, name=fraud.name, slug=fraud.slug,
        intended_purpose="Scores card payments and refunds.", risk_category=fraud.risk_category,
    ), fraud  # fmt: skip


@case("governance.services.roles.grant_role")
def _grant_role(w: World) -> Called:
    registrar, fraud = w.registrar, w.fraud
    newcomer = UserFactory(username="newcomer")
    return lambda: governance.grant_role(
        actor=registrar, system=fraud, role=Role.VIEWER, user=newcomer
    ), fraud


@case("governance.services.roles.revoke_role")
def _revoke_role(w: World) -> Called:
    registrar, fraud = w.registrar, w.fraud
    grant = RoleGrant.objects.get(system=fraud, user=w.viewer)
    return lambda: governance.revoke_role(actor=registrar, grant=grant), fraud


@case("governance.services.api_tokens.create_api_token")
def _create_api_token(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: governance.create_api_token(
        actor=owner, system=fraud, name="CI", expires_in_days=30
    ), fraud


@case("governance.services.api_tokens.revoke_api_token")
def _revoke_api_token(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    token, _ = governance.create_api_token(actor=owner, system=fraud, name="CI", expires_in_days=30)
    return lambda: governance.revoke_api_token(actor=owner, token=token), fraud


# releases


@case("releases.services.approvals.record_approval")
def _record_approval(w: World) -> Called:
    submitted, manager = w.submitted, w.release_manager
    return lambda: releases.record_approval(
        actor=manager, release=submitted, decision="approve", comment="ok"
    ), submitted.system


@case("releases.services.drills.record_drill")
def _record_drill(w: World) -> Called:
    drill = finished_drill(w)
    return lambda: drills.record_drill(drill=drill), drill.environment.system


@case("releases.services.drills.record_drill_on")
def _record_drill_on(w: World) -> Called:
    drill = finished_drill(w)
    release = Release.objects.get(version="2.2.0")
    return lambda: drills.record_drill_on(release, drill), release.system


@case("releases.services.environments.create_environment")
def _create_environment(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: releases.create_environment(actor=owner, system=fraud, name="Staging"), fraud


@case("releases.services.environments.update_environment")
def _update_environment(w: World) -> Called:
    owner, production, fraud = w.owner, w.production, w.fraud
    return lambda: releases.update_environment(
        actor=owner, environment=production, name="Production EU", is_production=True,
        backend_type=production.backend_type, backend_config=production.backend_config,
    ), fraud  # fmt: skip


@case("releases.services.gates.record_gate_check")
def _record_gate_check(w: World) -> Called:
    draft, owner = w.draft, w.model_owner
    return lambda: releases.record_gate_check(
        actor=owner, release=draft, criterion=GateCriterion.BENCHMARK, comparison="attested",
        attested_pass=True, evidence_uri="https://wiki.example.com/benchmark",
    ), draft.system  # fmt: skip


@case("releases.services.gates.record_gate_evidence")
def _record_gate_evidence(w: World) -> Called:
    draft, owner = w.draft, w.model_owner
    return lambda: releases.record_gate_evidence(
        actor=owner, release=draft, checks=[{
            "criterion": GateCriterion.LATENCY, "comparison": "lte", "measured_value":
            Decimal("240"), "target": Decimal("300"), "evidence_uri": "https://grafana/d/p95",
        }],
    ), draft.system  # fmt: skip


@case("releases.services.gates.update_gate_policy")
def _update_gate_policy(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: releases.update_gate_policy(
        actor=owner, system=fraud, required_criteria=list(GateCriterion.values),
        approvals_required=3,
    ), fraud  # fmt: skip


@case("releases.services.plans.save_rollback_plan")
def _save_rollback_plan(w: World) -> Called:
    draft, owner, production, rollback_owner = (
        w.draft,
        w.model_owner,
        w.production,
        w.rollback_owner,
    )
    return lambda: releases.save_rollback_plan(
        actor=owner, release=draft, environment=production, owners=[rollback_owner],
        mode="manual", cooldown_minutes=30, triggers=[],
    ), draft.system  # fmt: skip


@case("releases.services.registration.create_release")
def _create_release(w: World) -> Called:
    owner, fraud = w.model_owner, w.fraud
    return lambda: releases.create_release(
        actor=owner, system=fraud, version="3.0.0", title="Fraud model 3.0.0", card=CARD,
        components=stack("3.0.0"),
    ), fraud  # fmt: skip


@case("releases.services.registration.update_release")
def _update_release(w: World) -> Called:
    draft, owner = w.draft, w.model_owner
    return lambda: releases.update_release(
        actor=owner, release=draft, title="Fraud model 2.0.0, retrained", card=CARD,
        components=stack("2.0.0"),
    ), draft.system  # fmt: skip


@case("releases.services.registration.submit_release")
def _submit_release(w: World) -> Called:
    ready, owner = w.ready, w.model_owner
    return lambda: releases.submit_release(actor=owner, release=ready), ready.system


@case("releases.services.rollouts.promote_release")
def _promote_release(w: World) -> Called:
    approved, manager, production = w.approved, w.release_manager, w.production

    def call() -> Any:
        with mock.patch.object(rollouts, "send_step"):  # the step is not applied
            return releases.promote_release(
                actor=manager, release=approved, environment=production,
                stage="general_release", traffic_percent=100,
            )  # fmt: skip

    return call, approved.system


def promoted(w: World) -> RolloutStep:
    call, _ = _promote_release(w)
    return call()


@case("releases.services.rollouts.apply_rollout_step")
def _apply_rollout_step(w: World) -> Called:
    step = promoted(w)
    return lambda: releases.apply_rollout_step(step_id=step.pk), step.release.system


@case("releases.services.rollouts.fail_rollout_step")
def _fail_rollout_step(w: World) -> Called:
    step = promoted(w)
    return lambda: rollouts.fail_rollout_step(
        step_id=step.pk, error="deploy hook answered 500"
    ), step.release.system


def at_shadow(w: World) -> RolloutStep:
    """The approved release applied at shadow in production: a rollout under way."""
    approved, manager, production = w.approved, w.release_manager, w.production
    with mock.patch.object(rollouts, "send_step"):
        step = releases.promote_release(
            actor=manager, release=approved, environment=production, stage="shadow",
            traffic_percent=5,
        )  # fmt: skip
    return releases.apply_rollout_step(step_id=step.pk)


@case("releases.services.rollout_controls.pause_rollout")
def _pause_rollout(w: World) -> Called:
    step = at_shadow(w)
    manager = w.release_manager
    return lambda: releases.pause_rollout(
        actor=manager, release=step.release, environment=step.environment
    ), step.release.system


@case("releases.services.rollout_controls.resume_rollout")
def _resume_rollout(w: World) -> Called:
    step = at_shadow(w)
    manager = w.release_manager
    releases.pause_rollout(actor=manager, release=step.release, environment=step.environment)
    return lambda: releases.resume_rollout(
        actor=manager, release=step.release, environment=step.environment
    ), step.release.system


@case("releases.services.rollout_controls.abort_rollout")
def _abort_rollout(w: World) -> Called:
    step = at_shadow(w)
    manager = w.release_manager
    return lambda: releases.abort_rollout(
        actor=manager, release=step.release, environment=step.environment, reason="bad canary"
    ), step.release.system


# releases: registry intake


def _following(w: World) -> Any:
    owner, fraud = w.owner, w.fraud
    return intake.follow_model(
        actor=owner, system=fraud, model_name="fraud-gbm",
        tracking_uri="https://mlflow.example.com",
        metric_criteria={"auc": {"criterion": "benchmark", "comparison": "gte", "target": "0.9"}},
    )  # fmt: skip


@case("releases.services.intake.secrets.create_webhook_secret")
def _create_webhook_secret(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: intake.create_webhook_secret(actor=owner, system=fraud, name="MLflow"), fraud


@case("releases.services.intake.secrets.revoke_webhook_secret")
def _revoke_webhook_secret(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    secret, _ = intake.create_webhook_secret(actor=owner, system=fraud, name="MLflow")
    return lambda: intake.revoke_webhook_secret(actor=owner, secret=secret), fraud


@case("releases.services.intake.follows.follow_model")
def _follow_model(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: intake.follow_model(
        actor=owner, system=fraud, model_name="fraud-gbm", tracking_uri="https://mlflow.example.com"
    ), fraud


@case("releases.services.intake.follows.update_follow")
def _update_follow(w: World) -> Called:
    follow, owner = _following(w), w.owner
    return lambda: intake.update_follow(
        actor=owner, follow=follow, tracking_uri="https://mlflow2.example.com"
    ), follow.system


@case("releases.services.intake.follows.unfollow_model")
def _unfollow_model(w: World) -> Called:
    follow, owner = _following(w), w.owner
    system = follow.system
    return lambda: intake.unfollow_model(actor=owner, follow=follow), system


@case("releases.services.intake.deliveries.receive_delivery")
def _receive_delivery(w: World) -> Called:
    follow, owner = _following(w), w.owner
    secret, _ = intake.create_webhook_secret(actor=owner, system=follow.system, name="MLflow")
    payload = {"entity": "model_version", "action": "created",
               "data": {"name": "fraud-gbm", "version": "3"}}  # fmt: skip
    return lambda: intake.receive_delivery(
        system=follow.system, secret=secret, delivery_id="d-1", payload=payload
    ), follow.system


@case("releases.services.intake.imports.import_model_version")
def _import_model_version(w: World) -> Called:
    follow, _ = _following(w), w.draft
    found = RegistryVersion.objects.create(system=follow.system, model_name="fraud-gbm",
                                           version="3")  # fmt: skip
    facts = ModelVersionFacts(
        name="fraud-gbm", version="3", source="s3://m/3", run_id="r3",
        run_url="https://mlflow.example.com/#/experiments/0/runs/r3", digest="c" * 64,
        flavors=["sklearn"], metrics={"auc": 0.95, "loss": 0.1},
    )  # fmt: skip

    def call() -> Any:
        with mock.patch.object(Registry, "model_version_facts", return_value=facts):
            return intake.import_model_version(registry_version_id=found.pk)

    return call, follow.system


@case("releases.services.intake.imports.fail_import")
def _fail_import(w: World) -> Called:
    fraud = w.fraud
    found = RegistryVersion.objects.create(system=fraud, model_name="fraud-gbm", version="3")
    return lambda: intake.fail_import(
        registry_version_id=found.pk, error="MLflow refused (HTTP 403)"
    ), fraud


@case("releases.services.registration.register_release")
def _register_release(w: World) -> Called:
    owner, fraud = w.model_owner, w.fraud
    return lambda: releases.register_release(
        actor=owner, system=fraud, version="3.0.0", title="Fraud model 3.0.0", card=CARD,
        components=stack("3.0.0"),
    ), fraud  # fmt: skip


@case("releases.services.registration.register_draft")
def _register_draft(w: World) -> Called:
    fraud = w.fraud

    @transaction.atomic
    def call() -> Any:
        return registration.register_draft(
            author=None, system=fraud, version="3.0.0", title="From MLflow", card=CARD,
            components=stack("3.0.0"), provenance={"mlflow_model": "fraud-gbm"},
        )  # fmt: skip

    return call, fraud


# releases: rollbacks


@case("releases.rollbacks.press.request_rollback")
def _request_rollback(w: World) -> Called:
    successor, production, owner = w.successor, w.production, w.rollback_owner
    return lambda: rollbacks.request_rollback(
        actor=owner, environment=production, reason="Review rate tripled"
    ), successor.system


@case("releases.rollbacks.press.confirm_rollback")
def _confirm_rollback(w: World) -> Called:
    request, owner = proposed(w), w.rollback_owner
    return lambda: rollbacks.confirm_rollback(
        actor=owner, request=request
    ), request.environment.system


@case("releases.rollbacks.press.dismiss_rollback")
def _dismiss_rollback(w: World) -> Called:
    request, owner = proposed(w), w.rollback_owner
    return lambda: rollbacks.dismiss_rollback(
        actor=owner, request=request, reason="Noise"
    ), request.environment.system


@case("releases.rollbacks.worker.run_rollback")
def _run_rollback(w: World) -> Called:
    request = requested(w)
    return lambda: rollbacks.run_rollback(request_id=request.pk), request.environment.system


@case("releases.rollbacks.outcome.succeed_rollback")
def _succeed_rollback(w: World) -> Called:
    request = running(w)
    return lambda: outcome.succeed_rollback(
        request.pk, {"status": "live"}
    ), request.environment.system


@case("releases.rollbacks.outcome.fail_rollback")
def _fail_rollback(w: World) -> Called:
    request = requested(w)
    return lambda: rollbacks.fail_rollback(
        request_id=request.pk, error="deploy hook answered 500"
    ), request.environment.system


@case("releases.rollbacks.leases.hold_for_retry")
def _hold_for_retry(w: World) -> Called:
    request = running(w)
    return lambda: rollbacks.hold_for_retry(
        request_id=request.pk, seconds=4, error="deploy hook answered 503"
    ), request.environment.system


@case("releases.rollbacks.records.record_step")
def _record_step(w: World) -> Called:
    request, owner = requested(w), w.rollback_owner
    return lambda: records.record_step(
        request, owner, "rollback.noted", "requested", "Noted."
    ), request.environment.system


# incidents


@case("incidents.services.alert_tokens.create_alert_token")
def _create_alert_token(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    return lambda: create_alert_token(actor=owner, system=fraud, name="prometheus"), fraud


@case("incidents.services.alert_tokens.revoke_alert_token")
def _revoke_alert_token(w: World) -> Called:
    owner, fraud = w.owner, w.fraud
    token, _ = create_alert_token(actor=owner, system=fraud, name="prometheus")
    return lambda: revoke_alert_token(actor=owner, token=token), fraud


@case("incidents.services.alerts.test_alert.send_test_alert")
def _send_test_alert(w: World) -> Called:
    from incidents.services.alerts.test_alert import send_test_alert

    owner, fraud, production = w.owner, w.fraud, w.production
    return lambda: send_test_alert(actor=owner, system=fraud, environment=production), fraud


@case("incidents.services.alerts.declare.declare_from_alert")
def _declare_from_alert(w: World) -> Called:
    fraud, production = w.fraud, w.production
    post, alert = Post(fraud, None, [production]), firing()
    return lambda: declare_from_alert(post, alert, production, "sev2"), fraud


@case("incidents.services.alerts.storm.join_storm")
def _join_storm(w: World) -> Called:
    owner, fraud, production = w.owner, w.fraud, w.production
    token, _ = create_alert_token(actor=owner, system=fraud, name="prometheus")
    post, alert = Post(fraud, token, [production]), firing()
    match = match_environment(fraud, alert.labels, [production])
    return lambda: join_storm(post, alert, match), fraud


@case("incidents.services.alerts.ingest.ingest_alert")
def _ingest_alert(w: World) -> Called:
    fraud, _ = w.fraud, w.production
    return lambda: incidents.ingest_alert(system=fraud, alert=firing()), fraud


@case("incidents.services.alerts.ingest.receive_alert")
def _receive_alert(w: World) -> Called:
    fraud, _ = w.fraud, w.production
    return lambda: incidents.receive_alert(system=fraud, alert=firing()), fraud


@case("incidents.services.alerts.ingest.receive_alerts")
def _receive_alerts(w: World) -> Called:
    fraud, _ = w.fraud, w.production
    return lambda: incidents.receive_alerts(system=fraud, alerts=[firing()]), fraud


@case("incidents.services.containment.request_containment")
def _request_containment(w: World) -> Called:
    incident, responder = w.incident, w.responder
    return lambda: incidents.request_containment(
        actor=responder, incident=incident, kind="disable_feature", target="velocity features"
    ), incident.system


@case("incidents.services.containment.set_containment_status")
def _set_containment_status(w: World) -> Called:
    incident, responder = w.incident, w.responder
    action = incidents.request_containment(
        actor=responder, incident=incident, kind="disable_feature", target="velocity features"
    )
    return lambda: incidents.set_containment_status(
        actor=responder, action=action, status="done"
    ), incident.system


@case("incidents.services.containment.pin_entry")
def _pin_entry(w: World) -> Called:
    incident, responder = w.incident, w.responder
    entry = incident.timeline.order_by("id").first()
    return lambda: incidents.pin_entry(actor=responder, entry=entry), incident.system


@case("incidents.services.lifecycle.declare_incident")
def _declare_incident(w: World) -> Called:
    lead, fraud = w.oncall_lead, w.fraud
    return lambda: incidents.declare_incident(
        actor=lead, system=fraud, title="Scores drift", severity="sev3", category="performance"
    ), fraud


@case("incidents.services.lifecycle.assign_role")
def _assign_role(w: World) -> Called:
    incident, lead, responder = w.incident, w.oncall_lead, w.responder
    return lambda: incidents.assign_role(
        actor=lead, incident=incident, role="scribe", user=responder
    ), incident.system


@case("incidents.services.lifecycle.release_role")
def _release_role(w: World) -> Called:
    incident, lead, responder = w.incident, w.oncall_lead, w.responder
    assignment = incidents.assign_role(actor=lead, incident=incident, role="scribe", user=responder)
    return lambda: incidents.release_role(actor=lead, assignment=assignment), incident.system


@case("incidents.services.lifecycle.move_stage")
def _move_stage(w: World) -> Called:
    incident, lead = w.incident, w.oncall_lead
    return lambda: incidents.move_stage(
        actor=lead, incident=incident, stage="containment"
    ), incident.system


@case("incidents.services.lifecycle.reach_rollback_stage")
def _reach_rollback_stage(w: World) -> Called:
    incident = w.incident
    return lambda: lifecycle.reach_rollback_stage(incident, version="2.0.0"), incident.system


@case("incidents.services.lifecycle.change_severity")
def _change_severity(w: World) -> Called:
    incident, lead = w.incident, w.oncall_lead
    return lambda: incidents.change_severity(
        actor=lead, incident=incident, severity="sev1", reason="Spreading"
    ), incident.system


@case("incidents.services.lifecycle.post_update")
def _post_update(w: World) -> Called:
    incident, responder = w.incident, w.responder
    return lambda: incidents.post_update(
        actor=responder, incident=incident, body="Looking at the velocity features."
    ), incident.system


@case("incidents.services.postmortem.save_postmortem")
def _save_postmortem(w: World) -> Called:
    incident, responder = w.incident, w.responder
    return lambda: incidents.save_postmortem(
        actor=responder, incident=incident, summary="Review rate tripled."
    ), incident.system


@case("incidents.services.postmortem.add_action_item")
def _add_action_item(w: World) -> Called:
    incident, responder = w.incident, w.responder
    return lambda: incidents.add_action_item(
        actor=responder, incident=incident, title="Add a canary"
    ), incident.system


@case("incidents.services.postmortem.update_action_item")
def _update_action_item(w: World) -> Called:
    incident, responder = w.incident, w.responder
    item = incidents.add_action_item(actor=responder, incident=incident, title="Add a canary")
    return lambda: incidents.update_action_item(
        actor=responder, item=item, owner=responder, due_date=None, status="in_progress"
    ), incident.system


@case("incidents.services.postmortem.publish_postmortem")
def _publish_postmortem(w: World) -> Called:
    incident, lead = w.incident, w.oncall_lead
    incidents.save_postmortem(
        actor=lead, incident=incident, summary="Review rate tripled.", impact="Slow checkouts.",
        detection_gaps="No canary.", root_cause_code="A feature flag flipped.",
    )  # fmt: skip
    incidents.move_stage(actor=lead, incident=incident, stage="review")
    return lambda: incidents.publish_postmortem(actor=lead, incident=incident), incident.system


@case("incidents.services.reporting.classify_serious")
def _classify_serious(w: World) -> Called:
    incident, lead = w.incident, w.oncall_lead
    return lambda: incidents.classify_serious(
        actor=lead, incident=incident, harm_categories=["property_or_environment"]
    ), incident.system


@case("incidents.services.reporting.record_report_sent")
def _record_report_sent(w: World) -> Called:
    incident, lead = serious(w), w.oncall_lead
    return lambda: incidents.record_report_sent(
        actor=lead, incident=incident, complete=False
    ), incident.system


@case("incidents.services.reporting.record_operator_notice")
def _record_operator_notice(w: World) -> Called:
    incident, lead = serious(w, operator_role="deployer"), w.oncall_lead
    return lambda: incidents.record_operator_notice(
        actor=lead, incident=incident, recipient="provider", name="Acme Models"
    ), incident.system


@case("incidents.services.reporting.record_causal_link")
def _record_causal_link(w: World) -> Called:
    incident, lead = serious(w), w.oncall_lead
    return lambda: incidents.record_causal_link(actor=lead, incident=incident), incident.system


@case("incidents.services.hotfixes.cite_hotfix")
def _cite_hotfix(w: World) -> Called:
    incident, lead, release = w.incident, w.oncall_lead, w.approved
    return lambda: incidents.cite_hotfix(
        actor=lead, incident=incident, release=release
    ), incident.system


@case("incidents.services.rollback.roll_back_incident")
def _roll_back_incident(w: World) -> Called:
    _ = w.successor  # live before the incident: an open SEV2 would freeze its promotion
    incident, lead = w.incident, w.oncall_lead
    return lambda: incidents.roll_back_incident(
        actor=lead, incident=incident, reason="Review rate tripled"
    ), incident.system


@case("incidents.services.rollback.record_rollback_step")
def _record_rollback_step(w: World) -> Called:
    _ = w.successor  # live before the incident: an open SEV2 would freeze its promotion
    incident, lead = w.incident, w.oncall_lead
    with rollbacks_held():
        request, _ = incidents.roll_back_incident(
            actor=lead, incident=incident, reason="Review rate tripled"
        )
    return lambda: rollback.record_rollback_step(request, "requested", "Pressed."), incident.system


@case("incidents.services.timeline.record")
def _record(w: World) -> Called:
    incident, responder = w.incident, w.responder
    return lambda: timeline.record(
        incident, actor=responder, kind=EntryKind.NOTE, body="Noted.", action="incident.note"
    ), incident.system


@case("incidents.services.triggers.evaluate")
def _evaluate(w: World) -> Called:
    incident = ingested_early(w)
    return lambda: triggers.evaluate(incident, now=timezone.now() + LATER), incident.system


@case("incidents.services.triggers.evaluate_open_incidents")
def _evaluate_open_incidents(w: World) -> Called:
    incident = ingested_early(w)
    return lambda: triggers.evaluate_open_incidents(now=timezone.now() + LATER), incident.system


# metric analysis: Prometheus answers through a stand-in here (its real answers are
# tests/releases/test_metric_analysis_live.py's)


def _reading(value: str) -> Any:
    from releases.analysis import prometheus

    return mock.patch.object(
        prometheus, "read", return_value=prometheus.Reading(prometheus.VALUE, Decimal(value), value)
    )


def _promql_trigger(w: World) -> Any:
    """2.1.0 live over 2.0.0, its plan automatic with a PromQL trigger held for 10 minutes."""
    from releases.models import Environment, RollbackPlan, RollbackTrigger

    successor, production = w.successor, w.production
    Environment.objects.filter(pk=production.pk).update(prometheus_url="http://127.0.0.1:9")
    plan = RollbackPlan.objects.get(release=successor)
    RollbackPlan.objects.filter(pk=plan.pk).update(mode="automatic")
    return RollbackTrigger.objects.create(
        plan=plan, metric="error_ratio", query="error_ratio", comparison="gt",
        threshold=Decimal("0.05"), window_minutes=5,
        holding_since=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip


@case("releases.services.promql_triggers.evaluate_promql_trigger")
def _evaluate_promql_trigger(w: World) -> Called:
    trigger = _promql_trigger(w)

    def call() -> Any:
        with _reading("0.2"):
            return promql_triggers.evaluate_promql_trigger(trigger_id=trigger.pk)

    return call, w.fraud


@case("releases.services.promql_triggers.evaluate_promql_triggers")
def _evaluate_promql_triggers(w: World) -> Called:
    _promql_trigger(w)

    def call() -> Any:
        with _reading("0.2"):
            return promql_triggers.evaluate_promql_triggers()

    return call, w.fraud


@case("releases.rollbacks.plan_triggers.act_on_held_trigger")
def _act_on_held_trigger(w: World) -> Called:
    from releases.models import RollbackPlan

    successor, production = w.successor, w.production
    plan = RollbackPlan.objects.get(release=successor)
    plan.mode = "auto_propose"
    return lambda: plan_triggers.act_on_held_trigger(
        plan=plan, environment=production, evidence={"metric": "error_ratio", "value": "0.2"},
        reason="The error ratio held above 5 %.", now=timezone.now(),
    ), production.system  # fmt: skip


def _shadow_under_analysis(w: World) -> RolloutStep:
    """The approved release applied at shadow in production, with an analysis of count 1."""
    approved, manager, production = w.approved, w.release_manager, w.production
    with mock.patch.object(rollouts, "send_step"):
        step = releases.promote_release(
            actor=manager, release=approved, environment=production, stage="shadow",
            traffic_percent=5, analysis={"query": "error_ratio",
                                         "success_condition": "result < 0.05", "count": 1},
        )  # fmt: skip
        releases.apply_rollout_step(step_id=step.pk)
    return step


@case("releases.services.analysis.take_measurement")
def _take_measurement(w: World) -> Called:
    """The one measurement an analysis of count 1 needs: it concludes, audited."""
    approved, analysis = w.approved, _shadow_under_analysis(w).analysis

    def call() -> Any:
        with _reading("0.01"):
            return analysis_services.take_measurement(analysis_id=analysis.pk)

    return call, approved.system


@case("releases.services.analysis.advance_soaked")
def _advance_soaked(w: World) -> Called:
    """A passed analysis whose stage has now soaked: the rollout advances, audited."""
    approved, step = w.approved, _shadow_under_analysis(w)
    StageAnalysis.objects.filter(step=step).update(
        status=AnalysisStatus.SUCCESSFUL, advance_at=timezone.now() - timedelta(seconds=1)
    )

    def call() -> Any:
        with mock.patch.object(rollouts, "send_step"):
            return analysis_services.advance_soaked()

    return call, approved.system


# releases: drift (an ungoverned change)


def drifted(w: World) -> Any:
    """An open drift of production: its backend reports 9.9.9, the record 2.0.0."""
    from releases.models import Drift, LocalDeploymentState

    production, _ = w.production, w.live_release
    LocalDeploymentState.objects.filter(environment=production).update(live_version="9.9.9")
    with mock.patch("releases.drift.notices.send_notices"):
        drift.reconcile_environment(environment_id=production.pk)
    return Drift.objects.get(environment=production, resolved_at__isnull=True)


@case("releases.drift.reconcile.reconcile_environment")
def _reconcile_environment(w: World) -> Called:
    from releases.models import LocalDeploymentState

    production, _ = w.production, w.live_release
    LocalDeploymentState.objects.filter(environment=production).update(live_version="9.9.9")
    return lambda: drift.reconcile_environment(environment_id=production.pk), production.system


@case("releases.drift.adopt.adopt_drift")
def _adopt_drift(w: World) -> Called:
    from releases.models import ReleaseStatus

    release = w.make_release("9.9.9")
    type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.APPROVED)
    found, manager = drifted(w), w.release_manager
    return lambda: drift.adopt_drift(actor=manager, drift=found, reason="Keep it."), w.fraud


@case("incidents.services.drift.record_drift_step")
def _record_drift_step(w: World) -> Called:
    found = drifted(w)
    return lambda: incident_drift.record_drift_step(found, "changed", "Moved again."), w.fraud


@case("incidents.services.drift.declare_ungoverned_change")
def _declare_ungoverned_change(w: World) -> Called:
    found = drifted(w)
    from incidents.models import Incident

    Incident.objects.filter(drift=found).update(drift=None)  # as if none had been declared
    return lambda: incident_drift.declare_ungoverned_change(drift=found, message="Seen."), w.fraud


READS = "reads only"
NOTICE = "a notice of a drift step (email, Slack): changes no state"
HOOKS = "registers or calls the apps' drift listeners: the listeners write the events"
EXEMPT: dict[str, str] = {
    "incidents.services.alerts.test_alert.triggers_to_try": "reads the triggers a test "
    "alert may speak for: no state",
    "releases.services.analysis.clean_analysis": "checks a promotion's analysis: no state",
    "releases.services.analysis.attach_analysis": "stores the analysis with its step; the "
    "caller (promote_release) records the event",
    "releases.services.analysis.start_analysis": "marks the analysis due when its step is "
    "applied; the caller (the step's outcome) records the event",
    "releases.services.analysis.cancel_analyses": "stops analyses the rollout left behind; the "
    "caller (a promotion, a failed step) records the event",
    "releases.services.analysis.due_analyses": "claims the measurements due (next_measurement_at"
    ", which no page shows); take_measurement records what they find",
    "releases.services.analysis.judge": "judges a reading: no state",
    "releases.services.analysis.assess": "where an analysis stands: reads only",
    "releases.services.analysis.aborted_stage": READS,
    "releases.services.promql_triggers.triggers_in_force": READS,
    "releases.rollbacks.plan_triggers.held_for": "compares times: no state",
    "releases.rollbacks.plan_triggers.in_cooldown": READS,
    "releases.rollbacks.plan_triggers.cooling": "a query expression: no state",
    "releases.drift.reconcile.drift_state": "a drift as a dict for an event: reads only",
    "releases.drift.reconcile.open_drift": READS,
    "releases.drift.reconcile.in_flight": READS,
    "releases.drift.reconcile.reconcile_environments": "beat's fan-out: sends one task per "
    "environment, each a reconcile_environment",
    "releases.drift.reconcile.schedule_reconcile": "sends reconcile tasks: no state",
    "releases.drift.reconcile.reconcile_after_rollback": "schedules a reconcile after a "
    "rollback's commit: no state",
    "releases.drift.observe.observe": "asks a backend what is live: reads only",
    "releases.drift.observe.matches": READS,
    "releases.drift.observe.observed_release": READS,
    "releases.drift.notices.schedule": NOTICE,
    "releases.drift.notices.send_notices": NOTICE,
    "releases.drift.notices.load": READS,
    "releases.drift.notices.compose": NOTICE,
    "releases.drift.notices.recipients": READS,
    "releases.drift.notices.email_notice": NOTICE,
    "releases.drift.notices.post_to_slack": NOTICE,
    "releases.drift.hooks.on_drift": HOOKS,
    "releases.drift.hooks.link_drifts": HOOKS,
    "releases.drift.hooks.notify": HOOKS,
    "releases.drift.hooks.link_for": READS,
    "incidents.services.drift.drift_link": READS,
    "governance.services.systems.check_may_register_system": "a permission check: reads only",
    "governance.services.sign_in.sign_in_with_idp": "a person's account and groups belong to "
    "no system: the event goes to the global chain, and the page cache keys on the viewer's "
    "groups (tests/governance/test_sign_in.py)",
    "governance.services.api_tokens.authenticate_api_token": "authenticates a request: stamps the "
    "token's last use (at most once a minute), shown only on the token pages, which the "
    "page cache does not serve",
    "releases.services.approvals.approval_conflicts": READS,
    "releases.services.approvals.valid_approvals": READS,
    "releases.services.approvals.takedown_of": READS,
    "releases.services.drills.drill_possible": READS,
    "releases.services.drills.fresh_drill": READS,
    "releases.services.plans.eligible_rollback_owners": READS,
    "releases.services.plans.rollback_targets": READS,
    "releases.services.plans.is_rollback_target": READS,
    "releases.services.plans.plan_state": "a plan as a dict for an event: reads only",
    "releases.services.registration.submission_problems": READS,
    "releases.services.deploy_gate.deployment_verdict": READS,
    "releases.services.deploy_gate.soak_clock": "a stage's soak from its step: reads only",
    "releases.services.gates.clean_soak_minutes": "checks a mapping: no state",
    "releases.services.rollout_controls.rollout_state": "a rollout from its steps: reads only",
    "releases.services.deploy_gate.register_gate_rule": "an app's rule, added at start-up: "
    "no state",
    "releases.services.rollouts.refused": "the gate's verdict as an error: reads only",
    "releases.services.intake.follows.clean_metric_criteria": "checks a mapping: no state",
    "releases.services.intake.deliveries.sweep_imports": "re-sends pending imports to the "
    "broker; the import records what becomes of them",
    "releases.services.rollouts.send_step": "hands a recorded step to the broker; "
    "apply_rollout_step records what becomes of it",
    "releases.services.rollouts.sweep_rollout_steps": "re-sends pending steps and stamps "
    "enqueued_at, which no page shows; a step it gives up on is failed by fail_rollout_step, "
    "which writes its event",
    "releases.rollbacks.broker.enqueue": "hands a recorded request to the broker; the worker "
    "records what becomes of it",
    "releases.rollbacks.leases.lease_kept": "renews a running request's lease (worker "
    "bookkeeping no page shows)",
    "releases.rollbacks.leases.lease_threads": "the lease-renewing threads: no state",
    "releases.rollbacks.records.locked_request": "reads (and locks) only",
    "releases.rollbacks.records.request_state": "a request as a dict for an event: reads only",
    "releases.rollbacks.sweep.sweep_rollbacks": "re-sends requests to the broker and stamps "
    "enqueued_at, which no page shows; the worker records what becomes of them",
    "releases.rollbacks.decision_links.decision_url": "signs a link: no state",
    "releases.rollbacks.decision_links.check_link": "checks a link's signature: no state",
    "releases.rollbacks.target.live_deployment": READS,
    "releases.rollbacks.target.rollback_target": READS,
    "releases.rollbacks.target.rollback_choice": READS,
    "releases.rollbacks.target.press_facts_params": "the press statement's parameters: no state",
    "releases.rollbacks.target.press_facts_from": "reads a row: no state",
    "releases.rollbacks.target.active_request": READS,
    "releases.rollbacks.target.rollback_just_done": READS,
    "releases.rollbacks.target.press_facts": READS,
    "releases.rollbacks.worker.rollback_context": "what a backend is told of a rollback: "
    "reads only",
    "incidents.services.alert_tokens.live_alert_token": "authenticates a post: stamps the "
    "token's last use (at most once a minute), shown only on the alert-token page, which "
    "the page cache does not serve",
    "incidents.services.alerts.declare.open_incident": READS,
    "incidents.services.alerts.environments.match_environment": READS,
    "incidents.services.alerts.environments.environments_of": READS,
    "incidents.services.alerts.parse.check_size": "checks a payload: no state",
    "incidents.services.alerts.parse.check_text": "checks a payload: no state",
    "incidents.services.alerts.parse.parse_alertmanager": "parses a payload: no state",
    "incidents.services.alerts.parse.parse_generic": "parses a payload: no state",
    "incidents.services.lifecycle.mark_contained": "sets contained_at on the caller's locked "
    "incident, unsaved: the caller saves it and records the event",
    "incidents.services.lifecycle.lock_incident": "reads (and locks) only",
    "incidents.services.lifecycle.may_post_status": "a permission check: reads only",
    "incidents.services.postmortem.publication_problems": READS,
    "incidents.services.rollback.incident_evidence": READS,
    "incidents.services.rollback.incident_cited": READS,
    "incidents.services.rollback.incident_served": READS,
    "incidents.services.rollback.war_room_link": READS,
    "incidents.services.rollback.host_plan_rollback": "returns what links a plan's rollback to "
    "an incident; the press records the request's event, a declared incident its own",
}


def test_every_service_is_held_to_the_rule() -> None:
    found = discovered_services()
    missing = found - set(CASES) - set(EXEMPT)
    gone = (set(CASES) | set(EXEMPT)) - found
    assert not missing, (
        f"New services: {sorted(missing)}. The page cache is right only if every service "
        "that changes what a system's pages show writes an audit event to that system's "
        "chain: add each to CASES in tests/governance/test_audit_rule.py (a call on a world "
        "and the system it acts on), or to EXEMPT with why it writes none."
    )
    assert not gone, f"No longer services (remove them from CASES or EXEMPT): {sorted(gone)}"
    assert not set(CASES) & set(EXEMPT), "A service is either called or exempt, not both."


@pytest.mark.parametrize("service", sorted(CASES))
def test_the_service_writes_an_audit_event_to_its_system_chain(service: str, world: World) -> None:
    call, system = CASES[service](world)
    world._ready = True
    before = AuditEvent.objects.count()
    with rollbacks_held():
        result = call()
    if system is RETURNED:
        system = result
    assert AuditEvent.objects.count() > before, f"{service} wrote no audit event"
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None and system is not None
    assert newest.system_id == system.pk, (
        f"{service} wrote its last event to {newest.chain}, not system:{system.pk}"
    )

"""The deployment gate: every refusal, through each shape a deployment asks it in.

The shapes: the promotion service (a person in Failsafe), the JSON answer CI reads, a Flagger
canary webhook and an Argo Rollouts web metric. The controllers are emulated from their
recorded contracts (tests/releases/contracts/flagger/, contracts/argo_analysis/): how they
call, and how they read the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from governance import services as governance
from incidents import services as incidents
from releases import rollbacks, services
from releases.models import Release, RollbackPlan, RollbackStatus
from releases.services import rollouts
from releases.services.deploy_gate import deployment_verdict
from tests.factories import ApprovedReleaseFactory, OpenIncidentFactory
from tests.fixtures.releases import rollbacks_held

CONTRACTS = Path(__file__).parent / "contracts"
FLAGGER = json.loads((CONTRACTS / "flagger" / "webhooks.json").read_text())
ARGO = json.loads((CONTRACTS / "argo_analysis" / "web_gate.json").read_text())


@dataclass
class Ask:
    """A question to the gate: this release, to this stage of this environment."""

    release: Release
    environment: Any
    stage: str = "general_release"


@pytest.fixture(autouse=True)
def personas(people, second_approver):  # type: ignore[no-untyped-def]
    """Every role holder of `fraud`: the state factories draw their actors from them."""
    return people


@pytest.fixture
def token(viewer, fraud) -> str:  # type: ignore[no-untyped-def]
    """What a controller or CI job carries: a viewer's API token for the system."""
    _, secret = governance.create_api_token(
        actor=viewer, system=fraud, name="deployment controller", expires_in_days=None
    )
    return secret


# --- the worlds, one for each reason ---------------------------------------------------------


def _not_approved(w: pytest.FixtureRequest) -> Ask:
    return Ask(w.getfixturevalue("submitted"), w.getfixturevalue("production"))


def _rolled_back(w: pytest.FixtureRequest) -> Ask:
    successor, production = w.getfixturevalue("successor"), w.getfixturevalue("production")
    with rollbacks_held():
        request, _ = rollbacks.request_rollback(
            actor=w.getfixturevalue("rollback_owner"), environment=production, reason="3x reviews"
        )
    assert rollbacks.run_rollback(request_id=request.pk).status == RollbackStatus.SUCCEEDED
    successor.refresh_from_db()
    return Ask(successor, production)


def _no_rollback_plan(w: pytest.FixtureRequest) -> Ask:
    # Submission requires a plan, and no service deletes one: a release from before plans
    # were required is the only way here.
    approved = w.getfixturevalue("approved")
    RollbackPlan.objects.filter(release=approved).delete()
    return Ask(approved, w.getfixturevalue("production"))


def _stage_skipped(w: pytest.FixtureRequest) -> Ask:
    fraud, owner = w.getfixturevalue("fraud"), w.getfixturevalue("owner")
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        required_stages=["shadow", "segment_monitoring"],
    )  # fmt: skip
    return Ask(w.getfixturevalue("approved"), w.getfixturevalue("production"))


def _step_in_flight(w: pytest.FixtureRequest) -> Ask:
    approved, production = w.getfixturevalue("approved"), w.getfixturevalue("production")
    with mock.patch.object(rollouts, "send_step"):  # recorded, never applied: pending
        services.promote_release(
            actor=w.getfixturevalue("release_manager"), release=approved,
            environment=production, stage="shadow", traffic_percent=0,
        )  # fmt: skip
    return Ask(approved, production, "segment_monitoring")


def _applied_shadow(w: pytest.FixtureRequest) -> tuple[Release, Any]:
    approved, production = w.getfixturevalue("approved"), w.getfixturevalue("production")
    step = services.promote_release(
        actor=w.getfixturevalue("model_owner"), release=approved, environment=production,
        stage="shadow", traffic_percent=5,
    )  # fmt: skip
    services.apply_rollout_step(step_id=step.pk)
    return approved, production


def _stage_order(w: pytest.FixtureRequest) -> Ask:
    return Ask(*_applied_shadow(w), "general_release")


def _soak_time(w: pytest.FixtureRequest) -> Ask:
    services.update_gate_policy(
        actor=w.getfixturevalue("owner"), system=w.getfixturevalue("fraud"),
        required_criteria=[], approvals_required=2, soak_minutes={"shadow": 60},
    )  # fmt: skip
    return Ask(*_applied_shadow(w), "segment_monitoring")


def _rollout_paused(w: pytest.FixtureRequest) -> Ask:
    approved, production = _applied_shadow(w)
    pause = services.pause_rollout(
        actor=w.getfixturevalue("model_owner"), release=approved, environment=production
    )
    services.apply_rollout_step(step_id=pause.pk)
    return Ask(approved, production, "segment_monitoring")


def _rollback_in_flight(w: pytest.FixtureRequest) -> Ask:
    successor, production = w.getfixturevalue("successor"), w.getfixturevalue("production")
    with rollbacks_held():  # requested, never run
        rollbacks.request_rollback(
            actor=w.getfixturevalue("rollback_owner"), environment=production, reason="3x reviews"
        )
    return Ask(successor, production)


def _change_freeze(w: pytest.FixtureRequest) -> Ask:
    production = w.getfixturevalue("production")
    approved = w.getfixturevalue("approved")
    OpenIncidentFactory(environment=production, severity="sev1")
    return Ask(approved, production)


REASONS: dict[str, Callable[[pytest.FixtureRequest], Ask]] = {
    "not_approved": _not_approved,
    "rolled_back": _rolled_back,
    "no_rollback_plan": _no_rollback_plan,
    "stage_skipped": _stage_skipped,
    "step_in_flight": _step_in_flight,
    "stage_order": _stage_order,
    "soak_time": _soak_time,
    "rollout_paused": _rollout_paused,
    "rollback_in_flight": _rollback_in_flight,
    "change_freeze": _change_freeze,
}


# --- the shapes --------------------------------------------------------------------------------


def ask_json(client: Client, ask: Ask, token: str) -> dict[str, Any]:
    response = client.get(
        f"/api/systems/{ask.release.system.slug}/gate/",
        {"environment": ask.environment.slug, "release": ask.release.version, "stage": ask.stage},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def flagger_body(ask: Ask, hook: str, token: str) -> dict[str, Any]:
    """The canary webhook payload, as Flagger's contract builds it."""
    canary, phase = FLAGGER["canary"], FLAGGER["hooks"][hook]["phase"]
    body = json.loads(
        json.dumps(FLAGGER["request"]["body"])
        .replace("{canary.name}", canary["name"])
        .replace("{canary.namespace}", canary["namespace"])
        .replace("{canary.checksum}", canary["checksum"])
        .replace("{hook.phase}", phase)
        .replace("{environment}", ask.environment.slug)
        .replace("{release}", ask.release.version)
        .replace("{token}", token)
    )
    body["metadata"]["stage"] = ask.stage
    return body  # type: ignore[no-any-return]


def flagger_decision(hook: str, status: int) -> str:
    """What Flagger does with the answer: a status up to 202 is the hook's success."""
    outcome = "on_success" if status <= FLAGGER["success_max_status"] else "on_failure"
    return FLAGGER["hooks"][hook][outcome]  # type: ignore[no-any-return]


def ask_flagger(client: Client, ask: Ask, hook: str, token: str) -> tuple[str, dict[str, Any]]:
    response = client.post(
        f"/api/systems/{ask.release.system.slug}/gate/flagger/{hook}/",
        flagger_body(ask, hook, token),
        content_type=FLAGGER["request"]["headers"]["Content-Type"],
    )
    assert response.status_code in (200, 409), response.content
    return flagger_decision(hook, response.status_code), response.json()


def argo_phase(status: int, body: bytes) -> str:
    """What Argo's web provider makes of the answer: a non-2xx is an Error; else the value at
    the template's jsonPath against its successCondition (`result == true`)."""
    if not 200 <= status < 300:
        return "Error"
    metric = ARGO["template"]["spec"]["metrics"][0]
    path = metric["provider"]["web"]["jsonPath"]
    assert path == "{$.allowed}" and metric["successCondition"] == "result == true"
    result = json.loads(body)["allowed"]
    return "Successful" if result is True else "Failed"


def argo_url(ask: Ask, base: str = "") -> str:
    web = ARGO["template"]["spec"]["metrics"][0]["provider"]["web"]
    return (
        web["url"]
        .replace("{base}", base)
        .replace("{system}", ask.release.system.slug)
        .replace("{environment}", ask.environment.slug)
        .replace("{{args.release}}", ask.release.version)
        .replace("{{args.stage}}", ask.stage)
    )


def ask_argo(client: Client, ask: Ask, token: str) -> str:
    header = ARGO["template"]["spec"]["metrics"][0]["provider"]["web"]["headers"][0]
    value = header["value"].replace("{{args.api-token}}", token)
    response = client.get(argo_url(ask), HTTP_AUTHORIZATION=value)
    return argo_phase(response.status_code, response.content)


# --- every reason, every shape ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("reason", list(REASONS))
def test_each_reason_refuses_in_every_shape(reason, request, client, token, release_manager):  # type: ignore[no-untyped-def]
    ask = REASONS[reason](request)

    verdict = deployment_verdict(release=ask.release, environment=ask.environment, stage=ask.stage)
    assert not verdict.allowed
    assert reason in [r.code for r in verdict.refusals]

    answer = ask_json(client, ask, token)
    assert answer["allowed"] is False
    assert reason in [r["code"] for r in answer["reasons"]]
    assert all(r["message"] for r in answer["reasons"])

    decision, body = ask_flagger(client, ask, "confirm-promotion", token)
    assert decision == "halt" and reason in [r["code"] for r in body["reasons"]]

    assert ask_argo(client, ask, token) == "Failed"

    with pytest.raises(ValidationError) as refused:
        services.promote_release(
            actor=release_manager, release=ask.release, environment=ask.environment,
            stage=ask.stage, traffic_percent=10,
        )  # fmt: skip
    message = next(r.message for r in verdict.refusals if r.code == reason)
    assert message in refused.value.messages


@pytest.mark.django_db
def test_an_approved_release_with_its_plan_may_go(client, token, approved, production):  # type: ignore[no-untyped-def]
    ask = Ask(approved, production)
    answer = ask_json(client, ask, token)
    assert answer == {
        "allowed": True, "system": "fraud", "environment": production.slug,
        "release": approved.version, "stage": "general_release", "rollback": False,
        "reasons": [],
    }  # fmt: skip
    assert ask_flagger(client, ask, "confirm-rollout", token)[0] == "proceed"
    assert ask_flagger(client, ask, "confirm-promotion", token)[0] == "proceed"
    assert ask_flagger(client, ask, "rollback", token)[0] == "proceed"  # nothing to roll back
    assert ask_argo(client, ask, token) == "Successful"


@pytest.mark.django_db
def test_every_reason_at_once(client, token, fraud, owner, submitted, production):  # type: ignore[no-untyped-def]
    """A verdict names every reason, not the first one found."""
    services.update_gate_policy(
        actor=owner, system=fraud, required_criteria=[], approvals_required=2,
        required_stages=["shadow"],
    )  # fmt: skip
    OpenIncidentFactory(environment=production, severity="sev2")
    codes = [r["code"] for r in ask_json(client, Ask(submitted, production), token)["reasons"]]
    assert codes == ["not_approved", "stage_skipped", "change_freeze"]


# --- the change freeze -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_freeze_refuses_a_promotion_and_lets_a_rollback_through(  # type: ignore[no-untyped-def]
    client, token, successor, live_release, production, rollback_owner, oncall_lead
):
    incident = OpenIncidentFactory(environment=production, severity="sev1")
    newer = ApprovedReleaseFactory(version="2.2.0")
    decision, body = ask_flagger(client, Ask(newer, production), "confirm-rollout", token)
    assert decision == "halt" and body["reasons"][0]["code"] == "change_freeze"
    assert f"INC-{incident.pk}" in body["reasons"][0]["message"]

    # The release a rollback puts back passes: asked by a controller, or pressed in Failsafe.
    back = ask_json(client, Ask(live_release, production), token)
    assert back["allowed"] is True and back["rollback"] is True
    with rollbacks_held():
        request, created = incidents.roll_back_incident(
            actor=rollback_owner, incident=incident, reason="3x reviews"
        )
    assert created and request.to_release == live_release
    # While it runs, the rolled-back-to release is still the one that may move there.
    assert ask_json(client, Ask(live_release, production), token)["allowed"] is True
    held = ask_json(client, Ask(successor, production), token)
    assert [r["code"] for r in held["reasons"]] == ["rollback_in_flight", "change_freeze"]


@pytest.mark.django_db
def test_the_hotfix_the_lead_names_goes_through_the_freeze(  # type: ignore[no-untyped-def]
    client, token, production, oncall_lead, responder, approved
):
    incident = OpenIncidentFactory(environment=production, severity="sev1")
    other = ApprovedReleaseFactory(version="2.0.1")
    with pytest.raises(PermissionDenied):
        incidents.cite_hotfix(actor=responder, incident=incident, release=approved)
    incidents.cite_hotfix(actor=oncall_lead, incident=incident, release=approved)
    assert ask_json(client, Ask(approved, production), token)["allowed"] is True
    assert ask_json(client, Ask(other, production), token)["allowed"] is False
    entry = incident.timeline.order_by("-id").first()
    assert entry is not None and "2.0.0 named as the hotfix" in entry.body
    with pytest.raises(ValidationError, match="already"):
        incidents.cite_hotfix(actor=oncall_lead, incident=incident, release=approved)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("severity", "where", "frozen"),
    [
        ("sev1", "production", True),
        ("sev2", "production", True),
        ("sev3", "production", False),
        ("sev4", "production", False),
        ("sev1", "staging", False),  # another environment's incident
        ("sev1", None, True),  # an incident naming no environment: all of the system's
    ],
)
def test_what_freezes_an_environment(  # type: ignore[no-untyped-def]
    client, token, approved, production, staging, severity, where, frozen
):
    environment = {"production": production, "staging": staging, None: None}[where]
    OpenIncidentFactory(environment=environment, severity=severity)
    answer = ask_json(client, Ask(approved, production), token)
    assert ("change_freeze" in [r["code"] for r in answer["reasons"]]) is frozen


@pytest.mark.django_db
def test_the_freeze_lifts_when_the_incident_is_recovered(  # type: ignore[no-untyped-def]
    client, token, approved, production, oncall_lead
):
    incident = OpenIncidentFactory(environment=production, severity="sev1")
    assert ask_json(client, Ask(approved, production), token)["allowed"] is False
    incidents.move_stage(actor=oncall_lead, incident=incident, stage="recovery")
    assert ask_json(client, Ask(approved, production), token)["allowed"] is False
    incidents.move_stage(actor=oncall_lead, incident=incident, stage="review")
    assert ask_json(client, Ask(approved, production), token)["allowed"] is True


# --- Flagger's rollback hook -----------------------------------------------------------------


@pytest.mark.django_db
def test_flaggers_rollback_hook_rolls_a_canary_back_only_for_what_waiting_does_not_cure(  # type: ignore[no-untyped-def]
    client, token, approved, production, release_manager
):
    ask = Ask(approved, production, "segment_monitoring")
    with mock.patch.object(rollouts, "send_step"):
        services.promote_release(
            actor=release_manager, release=approved, environment=production,
            stage="segment_monitoring", traffic_percent=10,
        )  # fmt: skip
    # A step still being applied is a wait, not a reason to roll back.
    decision, body = ask_flagger(client, ask, "rollback", token)
    assert decision == "proceed" and body["roll_back"] is False
    OpenIncidentFactory(environment=production, severity="sev1")
    decision, body = ask_flagger(client, ask, "rollback", token)
    assert decision == "roll back" and body["roll_back"] is True


# --- who may ask, and bad questions ----------------------------------------------------------


@pytest.mark.django_db
def test_only_the_systems_people_may_ask(client, approved, production, outsider, other_system):  # type: ignore[no-untyped-def]
    ask = Ask(approved, production)
    url = f"/api/systems/fraud/gate/?environment={production.slug}&release=2.0.0"
    assert client.get(url).status_code in (401, 403)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.logout()
    body = flagger_body(ask, "confirm-promotion", "fsk_not-a-token")
    answer = client.post(
        "/api/systems/fraud/gate/flagger/confirm-promotion/", body, content_type="application/json"
    )
    assert answer.status_code == 401
    del body["metadata"]["token"]
    answer = client.post(
        "/api/systems/fraud/gate/flagger/confirm-promotion/", body, content_type="application/json"
    )
    assert answer.status_code in (401, 403)


@pytest.mark.django_db
def test_a_token_for_another_system_finds_no_gate(  # type: ignore[no-untyped-def]
    client, approved, production, other_system
):
    stranger = User.objects.get(username="stranger")  # other_system's owner
    _, secret = governance.create_api_token(
        actor=stranger, system=other_system, name="elsewhere", expires_in_days=None
    )
    response = client.get(
        f"/api/systems/fraud/gate/?environment={production.slug}&release=2.0.0",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"release": "2.0.0"}, "environment"),
        ({"environment": "production"}, "release"),
        ({"environment": "nowhere", "release": "2.0.0"}, "environment"),
        ({"environment": "production", "release": "9.9.9"}, "release"),
        ({"environment": "production", "release": "2.0.0", "stage": "moon"}, "stage"),
        ({"environment": "production", "release": "2.0.0", "stage": ""}, "stage"),
        ({"environment": "production", "release": "ü" * 201}, "release"),
    ],
)
def test_a_bad_question_is_a_400_that_says_which(client, token, approved, production, query, field):  # type: ignore[no-untyped-def]
    response = client.get("/api/systems/fraud/gate/", query, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_flagger_hooks_failsafe_does_not_answer_are_404(client, token, approved, production):  # type: ignore[no-untyped-def]
    body = flagger_body(Ask(approved, production), "confirm-rollout", token)
    for hook in ("pre-rollout", "post-rollout", "event", "x" * 300):
        response = client.post(
            f"/api/systems/fraud/gate/flagger/{hook}/", body, content_type="application/json"
        )
        assert response.status_code == 404, hook


@pytest.mark.django_db
def test_a_malformed_flagger_payload_is_a_400(client, token, approved, production):  # type: ignore[no-untyped-def]
    url = "/api/systems/fraud/gate/flagger/confirm-rollout/"
    good = flagger_body(Ask(approved, production), "confirm-rollout", token)
    for broken, field in (
        ({**good, "metadata": {"token": token, "release": "2.0.0"}}, "metadata"),
        ({**good, "name": None}, "name"),
        ({**good, "metadata": {**good["metadata"], "stage": "moon"}}, "metadata"),
    ):
        response = client.post(url, broken, content_type="application/json")
        assert response.status_code == 400, broken
        assert field in response.json()


# --- the question costs a fixed handful of queries ---------------------------------------------


@pytest.mark.django_db
def test_the_verdict_reads_in_two_statements_however_many_incidents(  # type: ignore[no-untyped-def]
    django_assert_max_num_queries, approved, production, fraud
):
    for n in range(3):
        OpenIncidentFactory(environment=production, severity="sev1", title=f"Outage {n}")
    with django_assert_max_num_queries(2):  # the facts, and the freeze's rule
        verdict = deployment_verdict(release=approved, environment=production, stage="shadow")
    assert [r.code for r in verdict.refusals] == ["change_freeze"]


# --- the controllers over real HTTP ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_controllers_ask_over_http_as_their_contracts_say(  # type: ignore[no-untyped-def]
    live_server, token, approved, production
):
    ask = Ask(approved, production)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        for hook in ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion"):
            answer = http.post(
                f"/api/systems/fraud/gate/flagger/{hook}/",
                content=json.dumps(flagger_body(ask, hook, token)),
                headers=FLAGGER["request"]["headers"],
            )
            assert flagger_decision(hook, answer.status_code) == "proceed", answer.text
        web = ARGO["template"]["spec"]["metrics"][0]["provider"]["web"]
        answer = http.get(
            argo_url(ask, live_server.url),
            headers={web["headers"][0]["key"]: f"Bearer {token}"},
        )
        assert argo_phase(answer.status_code, answer.content) == "Successful"

        OpenIncidentFactory(environment=production, severity="sev1")
        answer = http.post(
            "/api/systems/fraud/gate/flagger/confirm-promotion/",
            content=json.dumps(flagger_body(ask, "confirm-promotion", token)),
            headers=FLAGGER["request"]["headers"],
        )
        assert flagger_decision("confirm-promotion", answer.status_code) == "halt"
        answer = http.get(
            argo_url(ask, live_server.url),
            headers={web["headers"][0]["key"]: f"Bearer {token}"},
        )
        assert argo_phase(answer.status_code, answer.content) == "Failed"

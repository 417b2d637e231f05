"""The releases app's entries of the role matrix: every endpoint and the personas it lets in.
tests/test_route_matrix.py calls them as every persona, in the world their paths need
(`releases_world`, tests/worlds/releases.py)."""

from __future__ import annotations

from tests.fixtures.releases import CARD, stack
from tests.matrix import EVERYONE, OWNERS, PRESSERS, SEERS, Route
from tests.releases.plan_form import trigger_rows

MODEL_OWNERS = frozenset({"model_owner"})
APPROVERS = frozenset({"release_manager"})
PROMOTERS = frozenset({"release_manager", "model_owner"})
EVIDENCE = frozenset({"model_owner", "release_manager"})

NEW = {"system": "fraud", "version": "9.0", "title": "t", "card": CARD, "components": stack("9")}
EDIT = {"title": "t2", "card": CARD, "components": stack("2.0.0")}
PLAN = {
    "environment": "production",
    "owners": ["rob"],
    "mode": "manual",
    "cooldown_minutes": 5,
    "triggers": [],
}
CHECK = {
    "criterion": "calibration",
    "comparison": "attested",
    "attested_pass": True,
    "evidence_uri": "https://e",
}
ENV = {"system": "fraud", "name": "Canary"}
POLICY = {"required_criteria": ["benchmark"], "approvals_required": 2}

FORM = {"version": "9.9", "title": "t", "system": "{fraud}", **CARD}
for _component in stack("9.9"):
    for _part in ("version", "uri", "digest"):
        FORM[f"{_component['kind']}_{_part}"] = _component[_part]
EDIT_FORM = {key: value for key, value in FORM.items() if key not in ("version", "system")}
PLAN_FORM = {
    "environment": "{production}",
    "owners": ["@rollback_owner"],
    "mode": "manual",
    "cooldown_minutes": "5",
    **trigger_rows(),
}

GATE_FORM = {
    "gate-TOTAL_FORMS": "1",
    "gate-INITIAL_FORMS": "1",
    "gate-0-criterion": "calibration",
    "gate-0-comparison": "attested",
    "gate-0-attested_pass": "true",
    "gate-0-evidence_uri": "https://e",
}

PAGES = [
    Route(
        "roll back an environment",
        "POST",
        "/systems/fraud/environments/{production}/rollback/",
        PRESSERS,
        ok=302,
        data={"reason": "Review rate 3x"},
    ),
    Route("release list page", "GET", "/releases/", EVERYONE),
    Route("approvals page", "GET", "/approvals/", EVERYONE),
    Route("register page", "GET", "/releases/new/", MODEL_OWNERS, outsider=403),
    Route(
        "register by form", "POST", "/releases/new/", MODEL_OWNERS, ok=302, outsider=403, data=FORM
    ),
    Route("release page", "GET", "/releases/{draft}/", SEERS),
    Route("release analysis panel", "GET", "/releases/{draft}/analysis/", SEERS),
    Route("edit page", "GET", "/releases/{draft}/edit/", MODEL_OWNERS),
    Route("edit by form", "POST", "/releases/{draft}/edit/", MODEL_OWNERS, ok=302, data=EDIT_FORM),
    Route(
        "gate check by form",
        "POST",
        "/releases/{draft}/gate-checks/",
        EVIDENCE,
        ok=302,
        data={**CHECK, "attested_pass": "true"},
    ),
    Route(
        "gate evidence by form",
        "POST",
        "/releases/{draft}/gate-evidence/",
        EVIDENCE,
        ok=302,
        data=GATE_FORM,
    ),
    Route("plan by form", "POST", "/releases/{draft}/plan/", MODEL_OWNERS, ok=302, data=PLAN_FORM),
    Route("submit by form", "POST", "/releases/{ready}/submit/", MODEL_OWNERS, ok=302),
    Route(
        "decide by form",
        "POST",
        "/releases/{submitted}/approvals/",
        APPROVERS,
        ok=302,
        data={"decision": "approve", "comment": "ok"},
    ),
    Route(
        "promote by form",
        "POST",
        "/releases/{approved}/promotions/",
        PROMOTERS,
        ok=302,
        data={"environment": "{production}", "stage": "shadow", "traffic_percent": "5"},
    ),
    Route("environments page", "GET", "/systems/fraud/environments/", SEERS),
    Route("release rollout panel", "GET", "/releases/{approved}/rollout/", SEERS),
    Route(
        "pause by form",
        "POST",
        "/releases/{approved}/rollout/pause/",
        PROMOTERS,
        ok=302,
        data={"environment": "{production}"},
    ),
    Route(
        "resume by form",
        "POST",
        "/releases/{paused}/rollout/resume/",
        PROMOTERS,
        ok=302,
        data={"environment": "{staging}"},
    ),
    Route(
        "abort by form",
        "POST",
        "/releases/{approved}/rollout/abort/",
        PROMOTERS,
        ok=302,
        data={"environment": "{production}", "reason": "bad canary"},
    ),
]

ROUTES = [
    *PAGES,
    Route("list", "GET", "/api/releases/", EVERYONE, api=True),
    Route("approval queue", "GET", "/api/releases/approval-queue/", EVERYONE, api=True),
    # The outsider registers releases nowhere: refused before the body names a system.
    Route(
        "register", "POST", "/api/releases/", MODEL_OWNERS, ok=201, outsider=403, api=True, data=NEW
    ),
    Route("detail", "GET", "/api/releases/{draft}/", SEERS, api=True),
    Route("edit draft", "PUT", "/api/releases/{draft}/", MODEL_OWNERS, api=True, data=EDIT),
    Route(
        "gate check",
        "POST",
        "/api/releases/{draft}/gate-checks/",
        EVIDENCE,
        ok=201,
        api=True,
        data=CHECK,
    ),
    Route("plan", "PUT", "/api/releases/{draft}/rollback-plan/", MODEL_OWNERS, api=True, data=PLAN),
    Route("submit", "POST", "/api/releases/{ready}/submit/", MODEL_OWNERS, api=True),
    Route(
        "approve",
        "POST",
        "/api/releases/{submitted}/approvals/",
        APPROVERS,
        ok=201,
        api=True,
        data={"decision": "approve", "comment": "ok"},
    ),
    Route(
        "promote",
        "POST",
        "/api/releases/{approved}/promotions/",
        PROMOTERS,
        ok=202,
        api=True,
        data={"environment": "production", "stage": "shadow", "traffic_percent": 5},
    ),
    Route(
        "pause",
        "POST",
        "/api/releases/{approved}/rollout/pause/",
        PROMOTERS,
        ok=202,
        api=True,
        data={"environment": "production"},
    ),
    Route(
        "resume",
        "POST",
        "/api/releases/{paused}/rollout/resume/",
        PROMOTERS,
        ok=202,
        api=True,
        data={"environment": "staging"},
    ),
    Route(
        "abort",
        "POST",
        "/api/releases/{approved}/rollout/abort/",
        PROMOTERS,
        ok=202,
        api=True,
        data={"environment": "production", "reason": "bad canary"},
    ),
    Route("environments", "GET", "/api/environments/", EVERYONE, api=True),
    Route("environment", "GET", "/api/environments/{production}/", SEERS, api=True),
    Route("add environment", "POST", "/api/environments/", OWNERS, ok=201, api=True, data=ENV),
    Route(
        "edit environment",
        "PATCH",
        "/api/environments/{production}/",
        OWNERS,
        api=True,
        data={"name": "Prod"},
    ),
    # Nothing has gone live in production yet: those who may look get a JSON 404 saying so.
    Route("live at", "GET", "/api/environments/{production}/live/", SEERS, ok=404, api=True),
    Route("gate policy", "GET", "/api/systems/fraud/gate-policy/", SEERS, api=True),
    # No drift is open in production: a release manager gets past access to hear so (409).
    Route(
        "adopt a drift",
        "POST",
        "/api/environments/{production}/drift/adopt/",
        APPROVERS,
        ok=409,
        api=True,
        data={"reason": "Approved hotfix."},
    ),
    # The deployment gate: any role may ask. 3.0.0 is in review, so Flagger hears 409 (hold).
    Route(
        "deployment gate",
        "GET",
        "/api/systems/fraud/gate/?environment=production&release=3.0.0",
        SEERS,
        api=True,
    ),
    Route(
        "flagger gate",
        "POST",
        "/api/systems/fraud/gate/flagger/confirm-promotion/",
        SEERS,
        ok=409,
        api=True,
        data={
            "name": "fraud-scorer",
            "namespace": "ml",
            "phase": "Progressing",
            "metadata": {"environment": "production", "release": "3.0.0"},
        },
    ),
    Route(
        "edit gate policy", "PUT", "/api/systems/fraud/gate-policy/", OWNERS, api=True, data=POLICY
    ),
]

"""The war room's entries of the role matrix: every page and action, and the personas it lets
in. tests/test_route_matrix.py calls them as every persona, in the world their paths need
(`war_room_world`, tests/worlds/war_room.py)."""

from __future__ import annotations

from governance.models import AISystem
from incidents import services
from releases.rollbacks.decision_links import decision_url
from tests.factories import DraftReleaseFactory, OpenIncidentFactory
from tests.matrix import EVERYONE, LEADS, PRESSERS, RESPONDERS, SEERS, Route

ROUTES = [
    Route(
        "roll back now",
        "POST",
        "/incidents/{incident}/rollback/",
        PRESSERS,
        ok=302,
        data={"reason": "Review rate 3x"},
    ),
    Route(
        "confirm a proposed rollback",
        "POST",
        "/incidents/{incident}/rollback/{proposal}/",
        PRESSERS,
        ok=302,
        data={"decision": "confirm"},
    ),
    # The proposal's notice links here (signed): anyone on the system sees it, pressers decide.
    Route("decision link", "GET", "/rollbacks/{proposal}/decide/{decision}/", SEERS),
    Route(
        "confirm from the decision link",
        "POST",
        "/rollbacks/{proposal}/decide/{decision}/",
        PRESSERS,
        ok=302,
        data={"decision": "confirm"},
    ),
    Route("incident list", "GET", "/incidents/", EVERYONE),
    # Names no system: anyone signed in may ask whether rollbacks would queue.
    Route("background status", "GET", "/incidents/background/", EVERYONE),
    Route("declare page", "GET", "/incidents/declare/", LEADS, outsider=403),
    Route(
        "declare by form",
        "POST",
        "/incidents/declare/",
        LEADS,
        ok=302,
        outsider=403,
        data={
            "system": "{fraud}",
            "title": "t",
            "severity": "sev3",
            "category": "bias",
            "source": "user_report",
        },
    ),
    Route("war room", "GET", "/incidents/{incident}/", SEERS),
    Route("live poll", "GET", "/incidents/{incident}/live/?v=stale&after=0", SEERS),
    Route("earlier entries", "GET", "/incidents/{incident}/timeline/?before=999999999", SEERS),
    Route(
        "move stage",
        "POST",
        "/incidents/{incident}/stage/",
        LEADS,
        ok=302,
        data={"stage": "containment"},
    ),
    Route(
        "change severity",
        "POST",
        "/incidents/{incident}/severity/",
        LEADS,
        ok=302,
        data={"severity": "sev1", "reason": "Spreading"},
    ),
    Route(
        "assign role",
        "POST",
        "/incidents/{incident}/roles/",
        LEADS,
        ok=302,
        data={"role": "scribe", "user": "@responder"},
    ),
    Route("end role", "POST", "/incidents/{incident}/roles/{assignment}/end/", LEADS, ok=302),
    Route(
        "post note",
        "POST",
        "/incidents/{incident}/posts/",
        RESPONDERS,
        ok=302,
        data={"body": "Seen", "kind": "note"},
    ),
    Route(
        "post status update",
        "POST",
        "/incidents/{incident}/posts/",
        LEADS,
        ok=302,
        data={"body": "Update", "kind": "status_update"},
    ),
    Route("pin entry", "POST", "/incidents/{incident}/entries/{entry}/pin/", RESPONDERS, ok=302),
    Route(
        "request containment",
        "POST",
        "/incidents/{incident}/containment/",
        RESPONDERS,
        ok=302,
        data={"kind": "disable_feature", "target": "velocity"},
    ),
    Route(
        "containment done",
        "POST",
        "/incidents/{incident}/containment/{containment}/status/",
        RESPONDERS,
        ok=302,
        data={"status": "done"},
    ),
    Route(
        "classify serious",
        "POST",
        "/incidents/{incident}/serious/",
        LEADS,
        ok=302,
        data={"harm_categories": ["fundamental_rights"]},
    ),
    Route("causal link", "POST", "/incidents/{serious}/causal-link/", LEADS, ok=302, data={}),
    Route(
        "operator notice",
        "POST",
        "/incidents/{serious}/operator-notices/",
        LEADS,
        ok=302,
        data={"recipient": "provider", "name": "Acme Models"},
    ),
    Route(
        "name the hotfix",
        "POST",
        "/incidents/{incident}/hotfixes/",
        LEADS,
        ok=302,
        data={"release": "{hotfix}"},
    ),
    # Release managers pass the permission and are then told no ungoverned change is open in
    # this world (400, nothing changed): tests/releases/test_drift.py adopts one.
    Route(
        "adopt a drift",
        "POST",
        "/incidents/{incident}/drift/adopt/",
        frozenset({"release_manager"}),
        ok=400,
        data={"reason": "Approved hotfix.", "expected": "2.0.0"},
    ),
    Route(
        "report sent",
        "POST",
        "/incidents/{serious}/reports/",
        LEADS,
        ok=302,
        data={"complete": "false"},
    ),
]


def incident_rows(incident, oncall_lead, responder) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the incident routes of the pages and of the API act on, besides the incident: a
        containment action, a serious incident, a rollback the plan proposed, a draft release to
    name the hotfix. The organisation
        deploys the system (a deployer informs its provider: Art. 26(5))."""
    AISystem.objects.filter(pk=incident.system_id).update(operator_role="deployer")
    incident.system.refresh_from_db()
    containment = services.request_containment(
        actor=responder, incident=incident, kind="block_rule", target="ignore previous"
    )
    serious = OpenIncidentFactory(
        actor=oncall_lead,
        system=incident.system,
        environment=None,
        title="Leak",
        severity="sev1",
        category="pii_leak",
    )
    services.classify_serious(
        actor=oncall_lead, incident=serious, harm_categories=["fundamental_rights"]
    )
    proposal, _ = services.roll_back_incident(
        actor=None, incident=incident, reason="review_rate > 2.5", trigger={"x": 1}, propose=True
    )
    hotfix = DraftReleaseFactory(system=incident.system, version="2.1.1")
    return {
        "incident": incident.pk,
        "containment": containment.pk,
        "serious": serious.pk,
        "proposal": proposal.pk,
        "decision": decision_url(proposal).rstrip("/").rsplit("/", 1)[1],
        "hotfix": hotfix.pk,
    }

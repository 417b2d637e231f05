"""The incidents API's entries of the role matrix: every endpoint and the personas it lets in.
tests/test_route_matrix.py calls them as every persona, in the world their paths need
(`incident_api_world`, tests/worlds/incident_api.py)."""

from __future__ import annotations

from tests.matrix import EVERYONE, LEADS, PRESSERS, RESPONDERS, SEERS, Route

INCIDENT = "/api/incidents/{incident}/"
REVIEW = "/api/incidents/{review}/"


def api(name, method, path, allowed, ok=200, **extra):  # type: ignore[no-untyped-def]
    return Route(name, method, path, allowed, ok=ok, api=True, **extra)


ROUTES = [
    api("list", "GET", "/api/incidents/", EVERYONE),
    api("read", "GET", INCIDENT, SEERS),
    api(
        "declare",
        "POST",
        "/api/incidents/",
        LEADS,
        ok=201,
        outsider=403,  # leads no incident anywhere: refused before the body names a system
        data={"system": "fraud", "title": "t", "severity": "sev3", "category": "bias"},
    ),
    api("stage", "POST", INCIDENT + "stage/", LEADS, data={"stage": "containment"}),
    api(
        "severity",
        "POST",
        INCIDENT + "severity/",
        LEADS,
        data={"severity": "sev1", "reason": "Spreading"},
    ),
    api("roles", "POST", INCIDENT + "roles/", LEADS, data={"role": "scribe", "user": "rhea"}),
    api("timeline", "GET", INCIDENT + "timeline/?after=0", SEERS),
    api(
        "note",
        "POST",
        INCIDENT + "timeline/",
        RESPONDERS,
        ok=201,
        data={"kind": "note", "body": "Seen"},
    ),
    api(
        "containment",
        "POST",
        INCIDENT + "containments/",
        RESPONDERS,
        ok=201,
        data={"kind": "disable_feature", "target": "velocity"},
    ),
    api(
        "containment status",
        "POST",
        INCIDENT + "containments/{containment}/",
        RESPONDERS,
        data={"status": "done"},
    ),
    api(
        "serious",
        "POST",
        INCIDENT + "serious/",
        LEADS,
        data={"harm_categories": ["fundamental_rights"]},
    ),
    api("reports", "POST", "/api/incidents/{serious}/reports/", LEADS, data={"complete": False}),
    api("causal link", "POST", "/api/incidents/{serious}/causal-link/", LEADS, data={}),
    api(
        "operator notice",
        "POST",
        "/api/incidents/{serious}/operator-notices/",
        LEADS,
        data={"recipient": "provider", "name": "Acme Models"},
    ),
    api("post-mortem", "GET", INCIDENT + "postmortem/", SEERS),
    api(
        "save post-mortem",
        "PUT",
        INCIDENT + "postmortem/",
        RESPONDERS,
        data={"summary": "What happened"},
    ),
    api(
        "action item",
        "POST",
        INCIDENT + "action-items/",
        RESPONDERS,
        ok=201,
        data={"title": "Alert per segment", "owner": "rhea"},
    ),
    api("publish", "POST", REVIEW + "publish/", LEADS),
    api("name the hotfix", "POST", INCIDENT + "hotfixes/", LEADS, data={"release": "2.1.1"}),
    api("metrics", "GET", "/api/incidents/metrics/", EVERYONE),
    # A proposal is active in production: pressing returns it (200), confirming runs it.
    api("roll back now", "POST", INCIDENT + "rollback/", PRESSERS, data={"reason": "x"}),
    api(
        "roll back the environment",
        "POST",
        "/api/environments/{production}/rollback/",
        PRESSERS,
        data={"reason": "x"},
    ),
    api("rollbacks", "GET", "/api/rollbacks/", EVERYONE),
    api("rollback", "GET", "/api/rollbacks/{proposal}/", SEERS),
    api("confirm rollback", "POST", "/api/rollbacks/{proposal}/confirm/", PRESSERS),
    api(
        "dismiss rollback",
        "POST",
        "/api/rollbacks/{proposal}/dismiss/",
        PRESSERS,
        data={"reason": "A false alarm"},
    ),
]

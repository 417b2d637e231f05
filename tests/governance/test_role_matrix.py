"""The inventory's entries of the role matrix (every page and API endpoint, the roles it lets
in; tests/test_route_matrix.py calls them as every persona), and what lists show to whom.

A user who holds no role on a system never learns it exists (404, never 403).
"""

from __future__ import annotations

import pytest

from governance.roles import Role
from tests.matrix import AUDITORS, EVERYONE, OWNERS, SEERS, Route

EVIDENCE_QUESTIONS = ["live", "approval", "changes", "monitoring", "rollback_plan"]
EXPORTERS = frozenset({"owner", "compliance"})  # Action.EXPORT_EVIDENCE
PERIOD = "?from=2026-10-01&to=2026-10-31"

NEW_SYSTEM = {"name": "Credit limits", "intended_purpose": "Sets limits.", "risk_category": "high"}
EDIT = {
    "name": "Card fraud screening",
    "slug": "fraud",
    "intended_purpose": "Scores card payments, now also wallets.",
    "risk_category": "high",
    "owners": ["@owner"],
}

PLAN = "post_market_monitoring_plan"

# The role matrix calls these in `governance_world` (tests/worlds/governance.py).
ROUTES = [
    # pages
    Route("system list", "GET", "/systems/", EVERYONE),
    Route("register form", "GET", "/systems/new/", OWNERS, outsider=403),
    Route("register", "POST", "/systems/new/", OWNERS, ok=302, outsider=403, data=NEW_SYSTEM),
    Route("system page", "GET", "/systems/fraud/", SEERS),
    Route("edit form", "GET", "/systems/fraud/edit/", OWNERS),
    Route("edit", "POST", "/systems/fraud/edit/", OWNERS, ok=302, data=EDIT),
    Route("grant", "POST", "/systems/fraud/roles/", OWNERS, ok=302,
          data={"role": "viewer", "user": "charlie"}),
    # Who may pick people: those who register systems or manage roles on any system (the
    # owner, and the matrix's outsider, who owns another system); it is not about fraud.
    Route("people search", "GET", "/people/search/?q=charlie", OWNERS, outsider=200),
    Route("revoke", "POST", "/systems/fraud/roles/{grant}/revoke/", OWNERS, ok=302),
    Route("audit page", "GET", "/audit/", EVERYONE),
    Route("evidence pack form", "GET", "/systems/fraud/evidence-pack/", EXPORTERS),
    Route("evidence pack download", "GET", "/systems/fraud/evidence-pack/" + PERIOD, EXPORTERS),
    Route("audit page of a system", "GET", "/audit/?system=fraud", EVERYONE),
    # the outsider owns another system: they read its trail, so they may export (fraud's: none)
    Route("audit export", "GET", "/audit/export.csv?system=fraud", AUDITORS, outsider=200),
    # the auditor's questions and the control coverage: whoever may read the audit trail
    Route("evidence hub", "GET", "/systems/fraud/evidence/", AUDITORS),
    *[Route(f"evidence question {key}", "GET", f"/systems/fraud/evidence/questions/{key}/",
            AUDITORS) for key in EVIDENCE_QUESTIONS],
    Route("evidence coverage", "GET", "/systems/fraud/evidence/coverage/", AUDITORS),
    Route("monitoring plan", "GET", f"/systems/fraud/evidence/documents/{PLAN}/", AUDITORS),
    Route("monitoring plan JSON", "GET", f"/systems/fraud/evidence/documents/{PLAN}.json",
          AUDITORS),
    # API
    Route("api list", "GET", "/api/systems/", EVERYONE, api=True),
    Route("api register", "POST", "/api/systems/", OWNERS, ok=201, outsider=403, api=True,
          data=NEW_SYSTEM),
    Route("api detail", "GET", "/api/systems/fraud/", SEERS, api=True),
    Route("api edit", "PATCH", "/api/systems/fraud/", OWNERS, api=True,
          data={"intended_purpose": "Scores card and wallet payments."}),
    Route("api roles", "GET", "/api/systems/fraud/roles/", SEERS, api=True),
    Route("api grant", "POST", "/api/systems/fraud/roles/", OWNERS, ok=201, api=True,
          data={"role": "viewer", "group": "auditors"}),
    Route("api revoke", "DELETE", "/api/systems/fraud/roles/{grant}/", OWNERS, ok=204, api=True),
    Route("api audit events", "GET", "/api/audit-events/", EVERYONE, api=True),
    Route("api evidence pack", "GET", "/api/systems/fraud/evidence-pack/" + PERIOD, EXPORTERS,
          api=True),
    Route("api evidence answers", "GET", "/api/systems/fraud/evidence/", AUDITORS, api=True),
    *[Route(f"api evidence question {key}", "GET",
            f"/api/systems/fraud/evidence/questions/{key}/", AUDITORS, api=True)
      for key in EVIDENCE_QUESTIONS],
    Route("api evidence coverage", "GET", "/api/systems/fraud/evidence/coverage/", AUDITORS,
          api=True),
    Route("api schema", "GET", "/api/schema/", EVERYONE, api=True),
    Route("api docs", "GET", "/api/docs/", EVERYONE, api=True),
]  # fmt: skip


@pytest.fixture(autouse=True)
def evidence_signing_key(settings) -> None:
    from governance.evidence.sign import generate_private_pem

    settings.EVIDENCE_SIGNING_KEY = generate_private_pem().decode()


@pytest.mark.django_db
def test_an_outsider_never_sees_the_system_in_lists(client, fraud, outsider):
    client.force_login(outsider)
    assert b"Card fraud screening" not in client.get("/systems/").content
    assert client.get("/api/systems/").json()["count"] == 0
    assert client.get("/api/audit-events/?system=fraud").json()["count"] == 0


@pytest.mark.django_db
def test_audit_events_are_shown_only_to_those_who_may_read_the_audit(client, fraud, viewer,
                                                                      compliance):  # fmt: skip
    client.force_login(viewer)
    assert client.get("/api/audit-events/").json()["count"] == 0
    client.force_login(compliance)
    assert client.get("/api/audit-events/").json()["count"] > 0


@pytest.mark.django_db
def test_a_role_granted_to_a_group_reaches_its_members(client, fraud, owner):
    from django.contrib.auth.models import Group

    from governance import services
    from tests.factories import UserFactory

    team = Group.objects.create(name="ml-oncall")
    member = UserFactory(username="gina")
    member.groups.add(team)
    client.force_login(member)
    assert client.get("/systems/fraud/").status_code == 404

    services.grant_role(actor=owner, system=fraud, role=Role.VIEWER, group=team)

    assert client.get("/systems/fraud/").status_code == 200
    assert client.get("/systems/fraud/edit/").status_code == 403

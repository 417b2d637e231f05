"""The world the API tests call: every persona holding its role on `fraud`, releases in every
state, a release live in production, a proposed rollback, an open incident with a containment,
an alert token; built once per module (`api_world`), inside a transaction rolled back at its
end.

Used by the schemathesis run (tests/test_api_fuzz.py) and the hostile-input sweep
(tests/test_hostile_input.py). Database: pytest-django's `db`, not `transactional_db`, on
purpose. Nothing ever commits: each request runs in a savepoint rolled back afterwards (every
case starts from the same world), and the Celery tasks services schedule with
`transaction.on_commit` are never sent to the suite's broker.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import override_settings

from tests.factories import PASSWORD

if TYPE_CHECKING:
    from django.contrib.auth.models import User

USERNAMES = {
    "owner": "registrar",
    "release_manager": "ravi",
    "model_owner": "mona",
    "rollback_owner": "rob",
    "oncall_lead": "olga",
    "responder": "rhea",
    "compliance": "carl",
    "viewer": "vic",
    "outsider": "charlie",
}
# Real ids and slugs for the path parameters, per path prefix; filled in by `api_world`.
REAL: dict[str, dict[str, list[Any]]] = {}


def _user(username: str) -> User:
    from tests.factories import UserFactory

    return cast("User", UserFactory(username=username))


def build_world() -> dict[str, Any]:
    """Every persona holding its role on `fraud`, releases in every state, a release live in
    production, a proposed rollback, an open incident with a containment: built through the
    services, as the fixtures of tests/conftest.py and tests/fixtures/releases.py do."""
    from django.contrib.auth.models import Permission

    from governance import services as governance
    from governance.models import AuditEvent
    from governance.roles import Role
    from incidents import services as incidents
    from incidents.services.alert_tokens import create_alert_token
    from releases import rollbacks, services
    from tests.conftest import PERSONA_ROLES
    from tests.factories import (
        ApprovedReleaseFactory,
        DraftReleaseFactory,
        LiveDeploymentFactory,
        OpenIncidentFactory,
        ReadyReleaseFactory,
        SubmittedReleaseFactory,
    )
    from tests.fixtures.releases import rollbacks_held

    add_system = Permission.objects.get(
        codename="add_aisystem", content_type__app_label="governance"
    )
    registrar = _user(USERNAMES["owner"])
    registrar.user_permissions.add(add_system)
    fraud = governance.create_system(
        actor=registrar,
        name="Card fraud screening",
        slug="fraud",
        intended_purpose="Scores card payments.",
        risk_category="high",
    )
    stranger = _user("stranger")
    stranger.user_permissions.add(add_system)
    governance.create_system(
        actor=stranger,
        name="Hidden system",
        slug="hidden",
        intended_purpose="Nobody here may see it.",
        risk_category="minimal",
    )
    people = {"owner": registrar}
    for persona, role in PERSONA_ROLES.items():
        if persona == "owner":
            continue
        people[persona] = _user(USERNAMES[persona])
        governance.grant_role(actor=registrar, system=fraud, role=role, user=people[persona])
    people["outsider"] = _user(USERNAMES["outsider"])
    second = _user("rita")
    governance.grant_role(actor=registrar, system=fraud, role=Role.RELEASE_MANAGER, user=second)
    author, manager = people["model_owner"], people["release_manager"]

    production = services.create_environment(
        actor=registrar, system=fraud, name="Production", is_production=True
    )
    staging = services.create_environment(actor=registrar, system=fraud, name="Staging")

    # Each release by the model owner, with the `ready` fixture's plan (auto_propose).
    by_author = {
        "system": fraud,
        "actor": author,
        "environment": production,
        "rollback_owners": [people["rollback_owner"]],
    }
    approvers = [manager, second]
    for version in ("0.9.0", "1.0.0"):  # 0.9.0 live, then superseded by 1.0.0
        live = ApprovedReleaseFactory(version=version, approvers=approvers, **by_author)
        LiveDeploymentFactory(release=live, actor=manager, environment=production)
    approved = ApprovedReleaseFactory(version="2.0.0", approvers=approvers, **by_author)
    submitted = SubmittedReleaseFactory(version="3.0.0", **by_author)
    ready = ReadyReleaseFactory(version="4.0.0", **by_author)
    draft = DraftReleaseFactory(version="5.0.0", system=fraud, actor=author)

    # A proposed rollback (a trigger fired under auto_propose), for confirm and dismiss.
    with rollbacks_held():
        proposed, _created = rollbacks.request_rollback(
            actor=None, environment=production, reason="Review rate 3x",
            trigger={"metric": "review_rate", "value": "7.5"}, propose=True,
        )  # fmt: skip
    incident = OpenIncidentFactory(
        actor=people["oncall_lead"], system=fraud, environment=production,
        title="Review rate tripled", severity="sev2", category="performance",
    )  # fmt: skip
    containment = incidents.request_containment(
        actor=people["responder"], incident=incident, kind="disable_feature", target="velocity"
    )
    _token, secret = create_alert_token(actor=registrar, system=fraud, name="Alertmanager")

    REAL.clear()
    REAL.update(
        {
            "/api/releases/": {"id": [draft.pk, ready.pk, submitted.pk, approved.pk, live.pk]},
            "/api/environments/": {"id": [production.pk, staging.pk]},
            "/api/rollbacks/": {"id": [proposed.pk]},
            "/api/incidents/": {"id": [incident.pk], "containment_id": [containment.pk]},
            "/api/audit-events/": {
                "id": list(AuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[:5])
            },
            "/api/systems/": {
                "slug": ["fraud", "fraud", "hidden"],
                "grant_id": list(fraud.role_grants.values_list("pk", flat=True)),
            },
        }
    )
    return {"alert_token": secret}


@pytest.fixture(scope="module")
def api_world(django_db_setup, django_db_blocker) -> Iterator[dict[str, Any]]:
    """Built once for the module, in a transaction rolled back at its end."""
    from governance.evidence import sign

    # The request cycle must not close the test's connection: Django's own test client
    # disconnects the same receivers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    test_settings = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        # Evidence packs are signed: without a key the export is a (documented) 503.
        EVIDENCE_SIGNING_KEY=sign.generate_private_pem().decode(),
    )
    test_settings.enable()
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            yield build_world()
            transaction.set_rollback(True)
    finally:
        test_settings.disable()
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def basic_auth(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}

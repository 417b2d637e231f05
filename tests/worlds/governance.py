"""The inventory's world: every persona, a group to grant roles to, and the rows the paths
name (a role grant to revoke, an audit event to read)."""

from __future__ import annotations

import pytest


@pytest.fixture
def everyone(people):  # type: ignore[no-untyped-def]
    """Every persona, and a group to grant roles to."""
    from django.contrib.auth.models import Group

    Group.objects.create(name="auditors")
    return people


@pytest.fixture
def governance_world(fraud, everyone, settings):
    from governance.evidence.sign import generate_private_pem
    from governance.models import AuditEvent
    from governance.roles import Role

    settings.EVIDENCE_SIGNING_KEY = generate_private_pem().decode()
    ids = {
        "grant": fraud.role_grants.get(role=Role.VIEWER).pk,
        "event": AuditEvent.objects.filter(system=fraud).earliest("id").pk,
    }
    return everyone, ids

"""Role grants and the object permissions they carry."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from governance import services
from governance.permissions import allowed_actions, can, visible_systems
from governance.roles import ROLE_ACTIONS, Action, Role
from tests.factories import UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_grants_exactly_its_actions(owner, fraud, role):
    user = UserFactory()
    services.grant_role(actor=owner, system=fraud, role=role, user=user)
    assert allowed_actions(user, fraud) == ROLE_ACTIONS[role]


@pytest.mark.django_db
def test_revoking_one_role_keeps_what_another_role_grants(owner, fraud):
    user = UserFactory()
    lead = services.grant_role(actor=owner, system=fraud, role=Role.ONCALL_LEAD, user=user)
    services.grant_role(actor=owner, system=fraud, role=Role.ROLLBACK_OWNER, user=user)

    services.revoke_role(actor=owner, grant=lead)

    assert allowed_actions(user, fraud) == ROLE_ACTIONS[Role.ROLLBACK_OWNER]


@pytest.mark.django_db
def test_only_owners_manage_roles(fraud, viewer):
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=viewer, system=fraud, role=Role.OWNER, user=viewer)
    assert not can(viewer, Action.MANAGE_ROLES, fraud)


@pytest.mark.django_db
def test_a_user_and_a_group_together_is_refused(owner, fraud):
    with pytest.raises(ValidationError):
        services.grant_role(
            actor=owner, system=fraud, role=Role.VIEWER, user=owner,
            group=Group.objects.create(name="g"),
        )  # fmt: skip


@pytest.mark.django_db
def test_a_deactivated_account_cannot_be_given_a_role(owner, fraud):
    gone = UserFactory(is_active=False)
    with pytest.raises(ValidationError):
        services.grant_role(actor=owner, system=fraud, role=Role.VIEWER, user=gone)


@pytest.mark.django_db
def test_a_deactivated_account_loses_every_right(fraud, viewer):
    viewer.is_active = False
    viewer.save()
    assert not can(viewer, Action.VIEW, fraud)


@pytest.mark.django_db
def test_the_last_owner_cannot_be_revoked(owner, fraud):
    with pytest.raises(ValidationError):
        services.revoke_role(actor=owner, grant=fraud.role_grants.get(role=Role.OWNER))
    assert can(owner, Action.MANAGE_ROLES, fraud)


@pytest.mark.django_db
def test_superusers_see_every_system(fraud, other_system):
    admin = UserFactory(is_superuser=True)
    assert set(visible_systems(admin)) == {fraud, other_system}


@pytest.mark.django_db
def test_the_written_out_roles_read_answers_as_the_grants_queryset(owner, fraud):
    # permissions._held reads a user's roles on a system in written-out SQL; the pages'
    # filters use the ORM's _grants_of. One rule, two forms: they must agree for grants to
    # users, to groups, to both, and to other systems only.
    from governance import permissions

    other = services.create_system(
        actor=owner, name="Loan scoring", slug="loans", intended_purpose="Scores loans.",
        risk_category="high",
    )  # fmt: skip
    responders, leads, idle = (Group.objects.create(name=n) for n in ("resp", "leads", "idle"))
    services.grant_role(actor=owner, system=fraud, role=Role.RESPONDER, group=responders)
    services.grant_role(actor=owner, system=fraud, role=Role.ONCALL_LEAD, group=leads)
    services.grant_role(actor=owner, system=other, role=Role.VIEWER, group=leads)
    direct, grouped, both, elsewhere, none = (UserFactory() for _ in range(5))
    services.grant_role(actor=owner, system=fraud, role=Role.ROLLBACK_OWNER, user=direct)
    grouped.groups.add(responders, idle)
    both.groups.add(leads)
    services.grant_role(actor=owner, system=fraud, role=Role.VIEWER, user=both)
    services.grant_role(actor=owner, system=other, role=Role.OWNER, user=elsewhere)
    none.groups.add(idle)

    for user in (direct, grouped, both, elsewhere, none):
        for system in (fraud, other):
            roles = (
                permissions._grants_of(user).filter(system=system).values_list("role", flat=True)
            )
            expected = frozenset(a.value for r in set(roles) for a in ROLE_ACTIONS[Role(r)])
            assert permissions._held(user, system) == expected, (user, system)
    assert permissions._held(both, fraud) >= {a.value for a in ROLE_ACTIONS[Role.ONCALL_LEAD]}
    assert permissions._held(none, fraud) == frozenset()

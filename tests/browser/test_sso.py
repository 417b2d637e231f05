"""Single sign-on in a real browser against a real OpenID provider on loopback.

The provider's groups claim decides the Failsafe groups at every sign-in (OIDC_GROUP_MAP), the
groups hold the roles: "sre-oncall" people are on-call leads of the fraud system and may press
ROLL BACK NOW; "sre" people are responders and see it disabled. Sign-out ends the provider's
session too. Every misconfiguration gets a page that says what is wrong, never a 500.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from governance import services as governance
from governance.models import AuditEvent
from governance.roles import Role
from incidents import services as incidents
from tests.factories import PASSWORD, UserFactory
from tests.fixtures.mlflow_server import free_port
from tests.fixtures.oidc_provider import IDP_PASSWORD, PROVIDER_NAME

pytestmark = pytest.mark.browser


@pytest.fixture
def fraud_groups(owner, fraud):  # type: ignore[no-untyped-def]
    """The Failsafe groups OIDC_GROUP_MAP names, with their roles on the fraud system."""
    for name, role in (("fraud-oncall", Role.ONCALL_LEAD), ("fraud-responders", Role.RESPONDER)):
        group = Group.objects.create(name=name)
        governance.grant_role(actor=owner, system=fraud, role=role, group=group)


@pytest.fixture
def incident(oncall_lead, fraud, production, successor, live_release, fraud_groups):  # type: ignore[no-untyped-def]
    return incidents.declare_incident(
        actor=oncall_lead, system=fraud, environment=production, severity="sev1",
        title="Review rate tripled after 2.1.0", category="drift",
    )  # fmt: skip


def sign_in_at_provider(page: Page, username: str, *, then_back: bool = True) -> None:
    """From Failsafe's login page, through the provider's sign-in form, back to Failsafe."""
    page.goto("/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.wait_for_url("**/interaction/**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(IDP_PASSWORD)
    page.get_by_role("button", name="Sign in to the identity provider").click()
    if then_back:
        page.wait_for_url(lambda url: "/login/" not in url and "127.0.0.1" not in url)


def test_an_oncall_lead_from_the_idp_rolls_back_and_signs_out_of_both(  # type: ignore[no-untyped-def]
    page, screenshot, identity_provider, incident, live_release
):
    identity_provider.add("olive", groups=["sre-oncall", "unmapped-team"], name="Olive Oncall")
    olive = page(None)
    olive.goto("/login/")
    expect(olive.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}")).to_be_visible()
    screenshot(olive, "sso-login.png")

    sign_in_at_provider(olive, "olive")
    account = get_user_model().objects.get(username="olive")
    assert not account.has_usable_password()
    assert account.get_full_name() == "Olive Oncall"
    assert list(account.groups.values_list("name", flat=True)) == ["fraud-oncall"]
    created = AuditEvent.objects.get(action="user.created_at_sign_in", object_id=str(account.pk))
    assert created.after["groups"] == ["fraud-oncall"]

    olive.goto(incident.get_absolute_url())
    olive.get_by_test_id("rollback-now").click()
    olive.get_by_role("button", name=f"Confirm: roll back to {live_release.version}").click()
    expect(olive.locator(".flash")).to_contain_text("requested")
    screenshot(olive, "sso-rollback-requested.png")

    # Signing out ends the provider's session as well (RP-initiated logout).
    olive.get_by_role("button", name="Sign out").click()
    olive.get_by_role("button", name="Yes, sign me out").click()
    olive.wait_for_url("**/login/")
    olive.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(olive.get_by_role("button", name="Sign in to the identity provider")).to_be_visible()


def test_the_idp_groups_decide_the_roles_at_every_sign_in(  # type: ignore[no-untyped-def]
    page, screenshot, identity_provider, incident
):
    identity_provider.add("rudy", groups=["sre"])
    rudy = page(None)
    sign_in_at_provider(rudy, "rudy")
    rudy.goto(incident.get_absolute_url())
    expect(rudy.locator("button.button-rollback[disabled]")).to_have_text("ROLL BACK NOW")
    expect(rudy.get_by_test_id("rollback-now")).to_have_count(0)
    screenshot(rudy, "sso-responder-disabled.png")

    # Taken out of the IdP group: the Failsafe group, and its role, go at the next sign-in.
    identity_provider.add("olive", groups=["sre-oncall"])
    olive = page(None)
    sign_in_at_provider(olive, "olive")
    olive.goto(incident.get_absolute_url())
    expect(olive.get_by_test_id("rollback-now")).to_be_visible()
    olive.context.clear_cookies()
    identity_provider.set_groups("olive", ["sre"])
    sign_in_at_provider(olive, "olive")
    olive.goto(incident.get_absolute_url())
    expect(olive.get_by_test_id("rollback-now")).to_have_count(0)
    expect(olive.locator("button.button-rollback[disabled]")).to_be_visible()
    account = get_user_model().objects.get(username="olive")
    assert list(account.groups.values_list("name", flat=True)) == ["fraud-responders"]
    changed = AuditEvent.objects.filter(action="user.updated_at_sign_in").latest("pk")
    assert changed.before["groups"] == ["fraud-oncall"]
    assert changed.after["groups"] == ["fraud-responders"]


def test_password_sign_in_turned_off_lets_only_break_glass_superusers_in(  # type: ignore[no-untyped-def]
    page, screenshot, identity_provider, settings, owner
):
    settings.PASSWORD_LOGIN = False
    UserFactory(username="breakglass", is_superuser=True, is_staff=True)

    visitor = page(None)
    visitor.goto("/login/")
    expect(visitor.locator(".auth-divider")).to_have_text("break-glass administrators only")
    visitor.get_by_label("Username").fill(owner.username)
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Sign in", exact=True).click()
    expect(visitor.get_by_role("alert")).to_contain_text(
        f"Password sign-in is turned off: only break-glass administrators use it. "
        f"Sign in with {PROVIDER_NAME} instead."
    )
    assert "/login/" in visitor.url
    screenshot(visitor, "sso-password-refused.png")

    visitor.get_by_label("Username").fill("breakglass")
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Sign in", exact=True).click()
    visitor.wait_for_url(lambda url: "/login/" not in url)


def test_a_wrong_issuer_gets_a_page_that_says_so(page, screenshot, identity_provider, settings):  # type: ignore[no-untyped-def]
    settings.OIDC_ISSUER = f"http://localhost:{identity_provider.port}"  # it calls itself 127.0.0.1
    visitor = page(None)
    visitor.goto("/login/")
    visitor.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    failed = visitor.get_by_test_id("sign-in-failed")
    expect(failed).to_contain_text(f"names itself '{identity_provider.issuer}'")
    screenshot(visitor, "sso-wrong-issuer.png")


def test_a_wrong_client_secret_gets_a_page_that_says_so(  # type: ignore[no-untyped-def]
    page, screenshot, identity_provider, settings
):
    settings.OIDC_RP_CLIENT_SECRET = "not-the-secret"
    identity_provider.add("olive", groups=["sre-oncall"])
    visitor = page(None)
    sign_in_at_provider(visitor, "olive", then_back=False)
    expect(visitor.get_by_test_id("sign-in-failed")).to_contain_text(
        "refused Failsafe's client credentials"
    )
    assert not get_user_model().objects.filter(username="olive").exists()
    screenshot(visitor, "sso-wrong-secret.png")


def test_an_idp_that_is_down_gets_a_page_that_says_so(page, screenshot, identity_provider):  # type: ignore[no-untyped-def]
    identity_provider.add("olive", groups=["sre-oncall"])
    visitor = page(None)
    sign_in_at_provider(visitor, "olive")  # it was up, and Failsafe read its endpoints
    visitor.context.clear_cookies()
    identity_provider.stop()
    visitor.goto("/login/")
    visitor.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(visitor.get_by_test_id("sign-in-failed")).to_contain_text("cannot be reached right now")
    screenshot(visitor, "sso-idp-down.png")


def test_an_idp_never_reached_gets_a_page_that_says_so(page, identity_provider, settings):  # type: ignore[no-untyped-def]
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    visitor = page(None)
    visitor.goto("/login/")
    visitor.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(visitor.get_by_test_id("sign-in-failed")).to_contain_text("cannot be reached right now")

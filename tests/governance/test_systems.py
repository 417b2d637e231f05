"""Registering and editing AI systems: through the service, the pages and the API."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from governance import services
from governance.models import AISystem, AuditEvent, RoleGrant
from governance.permissions import can
from governance.roles import Action, Role
from tests.factories import UserFactory

VALID = {
    "name": "Credit limits",
    "intended_purpose": "Sets card credit limits.",
    "risk_category": "high",
}


@pytest.mark.django_db
def test_it_registers_a_system_with_its_creator_as_owner(registrar):
    system = services.create_system(actor=registrar, **VALID)

    assert system.slug == "credit-limits"
    assert can(registrar, Action.MANAGE_ROLES, system)
    event = AuditEvent.objects.get(system=system)
    assert event.action == "system.created"
    assert event.actor_name == "registrar"
    assert event.after["owners"] == ["registrar"]
    assert event.after["risk_category"] == "high"


@pytest.mark.django_db
def test_it_refuses_registration_without_the_global_right(db):
    nobody = UserFactory()
    with pytest.raises(PermissionDenied):
        services.create_system(actor=nobody, **VALID)
    assert not AISystem.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_duplicate_name_or_slug(registrar, fraud):
    with pytest.raises(ValidationError) as caught:
        services.create_system(actor=registrar, **{**VALID, "name": "card fraud SCREENING"})
    assert "name" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.create_system(actor=registrar, **{**VALID, "slug": "fraud"})
    assert "slug" in caught.value.message_dict


@pytest.mark.django_db
def test_an_update_records_before_and_after(owner, fraud):
    services.update_system(
        actor=owner,
        system=fraud,
        name=fraud.name,
        slug=fraud.slug,
        intended_purpose="Scores card and wallet payments.",
        risk_category="high",
    )
    event = AuditEvent.objects.filter(system=fraud, action="system.updated").get()
    assert event.before["intended_purpose"] == "Scores card payments."
    assert event.after["intended_purpose"] == "Scores card and wallet payments."


@pytest.mark.django_db
def test_an_update_that_changes_nothing_records_nothing(owner, fraud):
    services.update_system(
        actor=owner,
        system=fraud,
        name=fraud.name,
        slug=fraud.slug,
        intended_purpose=fraud.intended_purpose,
        risk_category=fraud.risk_category,
    )
    assert not AuditEvent.objects.filter(action="system.updated").exists()


@pytest.mark.django_db
def test_replacing_owners_moves_the_rights(owner, fraud):
    newcomer = UserFactory(username="nina")
    services.update_system(
        actor=owner,
        system=fraud,
        name=fraud.name,
        slug=fraud.slug,
        intended_purpose=fraud.intended_purpose,
        risk_category=fraud.risk_category,
        owners=[newcomer],
    )
    assert can(newcomer, Action.CHANGE, fraud)
    assert not can(owner, Action.CHANGE, fraud)
    assert not can(owner, Action.VIEW, fraud)


# --- pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_register_form_shows_field_errors_and_writes_nothing(client, registrar):
    client.force_login(registrar)
    events = AuditEvent.objects.count()

    invalid = {"name": "", "intended_purpose": "", "risk_category": "x"}
    response = client.post("/systems/new/", invalid)

    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Select a valid choice." in html
    assert not AISystem.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_service_error_lands_on_its_form_field(client, registrar, fraud):
    client.force_login(registrar)
    response = client.post("/systems/new/", {**VALID, "slug": "fraud"})
    assert response.status_code == 400
    assert "An AI system with this slug already exists." in response.content.decode()
    assert AISystem.objects.count() == 1


@pytest.mark.django_db
def test_registering_through_the_page_redirects_to_the_new_system(client, registrar):
    client.force_login(registrar)
    response = client.post("/systems/new/", VALID)
    assert response.status_code == 302
    assert response.url == "/systems/credit-limits/"


@pytest.mark.django_db
def test_the_list_filters_by_search_and_risk_and_answers_htmx_with_the_table(
    client, registrar, fraud
):
    services.create_system(actor=registrar, **VALID)
    client.force_login(registrar)

    page = client.get("/systems/?risk_category=high&q=credit")
    assert b"Credit limits" in page.content
    assert b"Card fraud screening" not in page.content

    partial = client.get("/systems/?q=fraud", headers={"HX-Request": "true"})
    assert b"<html" not in partial.content
    assert b"Card fraud screening" in partial.content


@pytest.mark.django_db
def test_granting_through_htmx_returns_the_panel_with_inline_errors(client, owner, fraud):
    client.force_login(owner)
    response = client.post(
        "/systems/fraud/roles/", {"role": "viewer"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "Choose either a user or a group." in response.content.decode()
    assert fraud.role_grants.count() == 1


@pytest.mark.django_db
def test_revoking_the_last_owner_is_refused_on_the_page(client, owner, fraud):
    client.force_login(owner)
    grant = fraud.role_grants.get(role=Role.OWNER)
    response = client.post(
        f"/systems/fraud/roles/{grant.pk}/revoke/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "A system needs at least one owner." in response.content.decode()
    assert RoleGrant.objects.filter(pk=grant.pk).exists()


@pytest.mark.django_db
def test_the_audit_page_filters_and_rejects_bad_dates(client, owner, fraud):
    client.force_login(owner)
    assert b"system.created" in client.get("/audit/?system=fraud").content
    assert b"system.created" not in client.get("/audit/?action=role.").content
    bad = client.get("/audit/?since=not-a-date")
    assert bad.status_code == 400
    assert b"Enter a valid date/time." in bad.content


# --- API ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_registers_a_system(client, registrar):
    client.force_login(registrar)
    response = client.post("/api/systems/", VALID, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "credit-limits"
    assert body["owners"] == ["registrar"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**VALID, "risk_category": "extreme"}, "risk_category"),
        ({**VALID, "name": ""}, "name"),
        ({**VALID, "slug": "not a slug!"}, "slug"),
        ({**VALID, "owners": ["nobody-by-that-name"]}, "owners"),
        ({"name": "Only a name"}, "intended_purpose"),
        ({**VALID, "name": "x" * 201}, "name"),
    ],
)
def test_api_answers_bad_payloads_with_field_errors_and_writes_nothing(
    client, registrar, payload, field
):
    client.force_login(registrar)
    response = client.post("/api/systems/", payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AISystem.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_api_answers_a_duplicate_with_the_service_error(client, registrar, fraud):
    client.force_login(registrar)
    response = client.post(
        "/api/systems/", {**VALID, "name": "Card fraud screening"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["An AI system with this name already exists."]}


@pytest.mark.django_db
def test_api_answers_malformed_json_with_400(client, registrar):
    client.force_login(registrar)
    response = client.post("/api/systems/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.django_db
def test_api_grants_and_revokes_roles(client, owner, fraud):
    someone = UserFactory(username="sam")
    client.force_login(owner)

    granted = client.post(
        "/api/systems/fraud/roles/",
        {"role": "responder", "user": "sam"},
        content_type="application/json",
    )
    assert granted.status_code == 201
    assert can(someone, Action.RESPOND_INCIDENT, fraud)

    again = client.post(
        "/api/systems/fraud/roles/",
        {"role": "responder", "user": "sam"},
        content_type="application/json",
    )
    assert again.status_code == 400

    revoked = client.delete(f"/api/systems/fraud/roles/{granted.json()['id']}/")
    assert revoked.status_code == 204
    assert not can(someone, Action.VIEW, fraud)
    actions = list(
        AuditEvent.objects.filter(system=fraud, action__startswith="role.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["role.granted", "role.revoked"]


@pytest.mark.django_db
def test_api_refuses_an_unknown_role(client, owner, fraud):
    client.force_login(owner)
    response = client.post(
        "/api/systems/fraud/roles/",
        {"role": "emperor", "user": owner.username},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "role" in response.json()


@pytest.mark.django_db
def test_api_schema_documents_the_inventory(client, viewer):
    client.force_login(viewer)
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/systems/{slug}/roles/" in schema["paths"]
    assert "/api/audit-events/" in schema["paths"]


@pytest.mark.django_db
def test_swagger_ui_is_served_from_our_own_static_files(client, viewer):
    client.force_login(viewer)
    html = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower()


def test_staff_set_the_drift_severity_in_the_admin_through_the_service(client, owner, fraud):
    # A staff member who owns the system: the admin saves through update_system, audited.
    type(owner).objects.filter(pk=owner.pk).update(is_staff=True)
    client.force_login(owner)
    url = f"/admin/governance/aisystem/{fraud.pk}/change/"
    form = client.get(url).content.decode()
    assert 'name="drift_severity"' in form
    data = {
        "name": fraud.name, "slug": fraud.slug, "intended_purpose": fraud.intended_purpose,
        "risk_category": fraud.risk_category, "operator_role": fraud.operator_role,
        "reporting_regime": fraud.reporting_regime, "drift_severity": "sev3",
        "rolegrant_set-TOTAL_FORMS": "0", "rolegrant_set-INITIAL_FORMS": "0",
    }  # fmt: skip
    assert client.post(url, data).status_code == 302
    fraud.refresh_from_db()
    assert fraud.drift_severity == "sev3"
    event = AuditEvent.objects.filter(action="system.updated").latest("id")
    assert event.after["drift_severity"] == "sev3"

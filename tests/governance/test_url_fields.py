"""Every URL field accepts only the schemes it documents, at the model, the form, the service
and the API; a page links only http(s) and its own paths, and shows anything else as text."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from governance.validators import (
    is_linkable,
    validate_artefact_uri,
    validate_backend_config,
    validate_evidence_uri,
)
from releases import services
from releases.models import Environment, GateCheck, ReleaseComponent
from tests.fixtures.releases import CARD, stack

HOSTILE = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example.com/x",
    "/\\evil.example.com",
    "https://",
    "https:///path",
    "s3://",
    "no scheme at all",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_it_refuses_what_no_url_field_documents(value):
    for validator in (validate_evidence_uri, validate_artefact_uri):
        with pytest.raises(ValidationError):
            validator(value)
    assert not is_linkable(value)


@pytest.mark.parametrize(
    "value",
    ["https://grafana.example.com/d/1", "http://wiki/x", "s3://bucket/report.html",
     "gs://bucket/r", "/systems/fraud/environments/#rollback-3"],
)  # fmt: skip
def test_evidence_takes_web_links_buckets_and_pages_of_the_site(value):
    validate_evidence_uri(value)


@pytest.mark.parametrize(
    "value",
    ["models:/fraud/3", "runs:/abc/model", "s3://m/fraud/1", "pypi://fraud-sdk/2.1",
     "docker://registry.example.com/fraud:1", "oci://r/x:1", "https://h/x"],
)  # fmt: skip
def test_artefacts_take_the_registries_the_field_names(value):
    validate_artefact_uri(value)


def test_only_web_links_and_site_paths_are_linkable():
    assert is_linkable("https://h/x") and is_linkable("/releases/1/")
    assert not is_linkable("s3://bucket/x") and not is_linkable("models:/fraud/1")


def test_backend_settings_hold_http_urls_only():
    validate_backend_config({"url": "https://deploy.example.com", "namespace": "javascript:x"})
    with pytest.raises(ValidationError):
        validate_backend_config({"status_url": "javascript:alert(1)"})
    with pytest.raises(ValidationError):
        validate_backend_config({"tracking_uri": "file:///tmp/mlruns"})


@pytest.mark.django_db
def test_the_models_refuse_a_javascript_url(draft, model_owner, production):
    check = GateCheck(
        release=draft, criterion="benchmark", comparison="attested", passed=True,
        evidence_uri="javascript:alert(1)", recorded_by=model_owner,
    )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        check.full_clean()
    assert "evidence_uri" in error.value.error_dict
    component = ReleaseComponent(release=draft, kind="model", version="1", uri="javascript:x",
                                 digest="0" * 64)  # fmt: skip
    with pytest.raises(ValidationError) as error:
        component.full_clean()
    assert "uri" in error.value.error_dict
    production.backend_config = {"url": "javascript:alert(1)"}
    with pytest.raises(ValidationError) as error:
        production.full_clean()
    assert "backend_config" in error.value.error_dict


@pytest.mark.django_db
def test_the_service_refuses_a_javascript_evidence_link(draft, model_owner):
    with pytest.raises(ValidationError) as error:
        services.record_gate_check(
            actor=model_owner, release=draft, criterion="calibration", comparison="attested",
            attested_pass=True, evidence_uri="javascript:alert(document.cookie)",
        )  # fmt: skip
    assert "evidence_uri" in error.value.error_dict


@pytest.mark.django_db
def test_the_form_refuses_a_javascript_evidence_link(client, draft, model_owner):
    client.force_login(model_owner)
    response = client.post(
        f"/releases/{draft.pk}/gate-checks/",
        {"criterion": "calibration", "comparison": "attested", "attested_pass": "true",
         "evidence_uri": "javascript:alert(1)"},
    )  # fmt: skip
    assert response.status_code in (200, 302, 400)
    assert not GateCheck.objects.filter(evidence_uri__startswith="javascript").exists()


@pytest.mark.django_db
def test_the_api_refuses_javascript_in_every_url_field(client, draft, model_owner, owner):
    client.force_login(model_owner)
    response = client.post(
        f"/api/releases/{draft.pk}/gate-checks/",
        data=json.dumps({"criterion": "calibration", "comparison": "attested",
                         "attested_pass": True, "evidence_uri": "javascript:alert(1)"}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "evidence_uri" in response.content.decode()

    components = stack("9")
    components[0]["uri"] = "javascript:alert(1)"
    response = client.post(
        "/api/releases/",
        data=json.dumps({"system": "fraud", "version": "9", "title": "t", "card": CARD,
                         "components": components}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400, response.content

    client.force_login(owner)
    response = client.post(
        "/api/environments/",
        data=json.dumps({"system": "fraud", "name": "Hooked", "backend_type": "webhook",
                         "backend_config": {"url": "javascript:alert(1)"}}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400, response.content
    assert not Environment.objects.filter(name="Hooked").exists()


@pytest.mark.django_db
def test_a_stored_uri_of_another_scheme_is_shown_as_text(client, draft, model_owner):
    # Written before the validator existed (or by hand in the database): never a link.
    GateCheck.objects.create(
        release=draft, criterion="benchmark", comparison="attested", passed=True,
        evidence_uri="javascript:alert(1)", recorded_by=model_owner,
    )  # fmt: skip
    GateCheck.objects.create(
        release=draft, criterion="latency", comparison="attested", passed=True,
        evidence_uri="https://grafana.example.com/d/1", recorded_by=model_owner,
    )  # fmt: skip
    client.force_login(model_owner)
    page = client.get(f"/releases/{draft.pk}/").content.decode()
    assert 'href="javascript:' not in page
    assert "javascript:alert(1)" in page  # as text
    assert 'href="https://grafana.example.com/d/1"' in page

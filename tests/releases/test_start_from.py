"""A new release started from one that exists: the form is prefilled with its stack and
card, the new release records where it started, its page diffs against that, and the
categories the stack's diff suggests are offered for the author to confirm."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from releases import services
from releases.models import Release
from tests.fixtures.releases import CARD, stack
from tests.releases.test_pages import release_form_data

pytestmark = pytest.mark.django_db

NEW_POLICY = "a" * 64


def _value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else ""


def test_it_offers_the_release_live_in_each_environment(client, model_owner, live_release):
    client.force_login(model_owner)
    html = client.get("/releases/new/").content.decode()
    assert f'href="?from={live_release.pk}"' in html
    assert "live in Production" in html


def test_it_prefills_the_stack_and_the_card_from_the_chosen_release(
    client, model_owner, live_release
):
    client.force_login(model_owner)
    html = client.get(f"/releases/new/?from={live_release.pk}").content.decode()
    for component in stack(live_release.version):
        for part in ("version", "uri", "digest"):
            assert _value(html, f"{component['kind']}_{part}") == component[part]
    assert CARD["why"] in html  # the card is carried over …
    assert _value(html, "based_on") == str(live_release.pk)
    assert _value(html, "version") == ""  # … but not the version, which must be new


@pytest.fixture
def loans(registrar):  # type: ignore[no-untyped-def]
    """Another system, where only the registrar registers releases."""
    from governance import services as governance
    from governance.roles import Role

    system = governance.create_system(
        actor=registrar, name="Loans", slug="loans", intended_purpose="Scores loans.",
        risk_category="high",
    )  # fmt: skip
    governance.grant_role(actor=registrar, system=system, role=Role.MODEL_OWNER, user=registrar)
    return system


def test_it_ignores_a_release_the_user_may_not_register_for(
    client, model_owner, make_release, registrar, loans
):
    foreign = make_release("9.0.0", system=loans, actor=registrar)
    client.force_login(model_owner)
    html = client.get(f"/releases/new/?from={foreign.pk}").content.decode()
    assert _value(html, "model_version") == ""
    assert "9.0.0" not in html


def test_the_new_release_records_its_base_and_its_page_diffs_against_it(
    client, model_owner, live_release, make_release
):
    earlier_draft = make_release("2.5.0")  # not live: the diff must still compare with it
    data = {
        **release_form_data("3.0.0"),
        "system": live_release.system_id,
        "based_on": earlier_draft.pk,
    }
    for component in stack("2.5.0"):  # the stack as prefilled, the policy changed
        for part in ("version", "uri", "digest"):
            data[f"{component['kind']}_{part}"] = component[part]
    data["threshold_policy_digest"] = NEW_POLICY
    client.force_login(model_owner)
    response = client.post("/releases/new/", data)
    assert response.status_code == 302
    release = Release.objects.get(version="3.0.0")
    assert release.based_on == earlier_draft
    html = client.get(f"/releases/{release.pk}/").content.decode()
    assert "1 of 6 components changed from" in html
    assert "the release it started from (2.5.0)" in html
    # The policy changed and only a new channel is declared: the page says what is missing.
    assert "The diff suggests <strong>Threshold / policy update</strong>, not declared" in html
    # Asking for an environment compares with what is live there instead.
    partial = client.get(
        f"/releases/{release.pk}/?compare=production",
        headers={"HX-Request": "true", "HX-Target": "release-diff"},
    ).content.decode()
    assert "components differ from" in partial and live_release.version in partial


def test_the_service_refuses_a_base_of_another_system(
    model_owner, fraud, make_release, registrar, loans
):
    foreign = make_release("9.0.0", system=loans, actor=registrar)
    with pytest.raises(ValidationError, match="same system"):
        services.create_release(
            actor=model_owner, system=fraud, version="3.0.0", title="Three", card=CARD,
            components=stack("3.0.0"), based_on=foreign,
        )  # fmt: skip
    assert not Release.objects.filter(version="3.0.0").exists()


def test_typing_a_new_threshold_policy_suggests_its_category(client, model_owner, live_release):
    data = {**release_form_data("3.0.0"), "system": live_release.system_id}
    data["based_on"] = live_release.pk
    for component in stack(live_release.version):
        for part in ("version", "uri", "digest"):
            data[f"{component['kind']}_{part}"] = component[part]
    data["change_categories"] = []
    client.force_login(model_owner)
    headers = {"HX-Request": "true", "HX-Target": "change-categories"}
    same = client.post("/releases/new/", data, headers=headers).content.decode()
    assert "suggested" not in same and "<html" not in same
    data["threshold_policy_digest"] = NEW_POLICY
    changed = client.post("/releases/new/", data, headers=headers).content.decode()
    assert "suggest <strong>Threshold / policy update</strong>" in changed
    assert changed.count("suggested-tag") == 1
    assert not Release.objects.filter(version="3.0.0").exists()  # nothing was saved


def test_editing_a_draft_suggests_from_what_it_would_replace(
    client, model_owner, live_release, make_release
):
    draft = make_release("3.0.0")
    data = {**release_form_data("3.0.0"), "change_categories": []}
    data.pop("system"), data.pop("version")
    data["fusion_version"] = "fusion-9"
    client.force_login(model_owner)
    html = client.post(
        f"/releases/{draft.pk}/edit/",
        data,
        headers={"HX-Request": "true", "HX-Target": "change-categories"},
    ).content.decode()
    assert "New fusion logic" in html and "suggested-tag" in html


def test_bad_input_to_the_suggestion_is_a_plain_answer(client, model_owner, live_release):
    client.force_login(model_owner)
    headers = {"HX-Request": "true", "HX-Target": "change-categories"}
    for system in ("abc", "999999", ""):
        response = client.post(
            "/releases/new/", {"system": system, "based_on": "x"}, headers=headers
        )
        assert response.status_code == 200
        assert "suggested-tag" not in response.content.decode()


def test_a_base_the_user_may_not_use_is_refused_in_words(
    client, model_owner, fraud, make_release, registrar, loans
):
    foreign = make_release("9.0.0", system=loans, actor=registrar)
    client.force_login(model_owner)
    data = {**release_form_data("3.0.0"), "system": fraud.pk, "based_on": foreign.pk}
    response = client.post("/releases/new/", data)
    assert response.status_code == 400
    assert "The release this one starts from: Select a valid choice." in response.content.decode()
    assert not Release.objects.filter(version="3.0.0").exists()

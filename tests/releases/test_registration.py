"""Registering a release, freezing it at submission, and what submission demands."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from governance.models import AuditEvent
from releases import services
from releases.models import ReleaseComponent, ReleaseStatus
from tests.fixtures.releases import CARD, stack


@pytest.mark.django_db
def test_a_release_carries_the_whole_stack_and_its_card(draft):
    kinds = sorted(draft.components.values_list("kind", flat=True))
    assert kinds == ["dataset", "evaluation", "fusion", "model", "sdk", "threshold_policy"]
    assert draft.status == ReleaseStatus.DRAFT
    assert draft.what_changed == CARD["what_changed"]
    event = AuditEvent.objects.get(action="release.created")
    assert event.after["stack"]["model"]["version"] == "model-2.0.0"


@pytest.mark.django_db
def test_only_model_owners_register_releases(make_release, viewer, release_manager):
    for person in (viewer, release_manager):
        with pytest.raises(PermissionDenied):
            make_release(actor=person)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("components", "message"),
    [
        (stack("1")[:5], "The stack lacks: Evaluation report."),
        ([*stack("1"), stack("1")[0]], "Model is given twice."),
        ([{**stack("1")[0], "digest": "abc"}, *stack("1")[1:]], "sha256"),
        ([{**stack("1")[0], "uri": " "}, *stack("1")[1:]], "give a uri"),
    ],
)
def test_an_incomplete_or_malformed_stack_is_refused(make_release, components, message):
    with pytest.raises(ValidationError) as caught:
        make_release(components=components)
    assert any(message in m for m in caught.value.message_dict["components"])
    assert not ReleaseComponent.objects.exists()


@pytest.mark.django_db
def test_a_digest_may_carry_its_algorithm_prefix(make_release):
    components = stack("1")
    components[0] = {**components[0], "digest": "sha256:" + components[0]["digest"].upper()}
    release = make_release(components=components)
    assert release.components.get(kind="model").digest == components[0]["digest"][7:].lower()


@pytest.mark.django_db
def test_every_model_card_field_is_required(make_release):
    with pytest.raises(ValidationError) as caught:
        make_release(card={**CARD, "known_risks": "  "})
    assert "known_risks" in caught.value.message_dict


@pytest.mark.django_db
def test_versions_are_unique_per_system(make_release):
    make_release("3.0")
    with pytest.raises(ValidationError) as caught:
        make_release("3.0")
    assert "version" in caught.value.message_dict


@pytest.mark.django_db
def test_submit_is_refused_with_the_list_of_what_is_missing(draft, model_owner):
    with pytest.raises(ValidationError) as caught:
        services.submit_release(actor=model_owner, release=draft)
    messages = caught.value.messages
    assert "Benchmark above target has no gate check." in messages
    assert "Rollback path ready has no gate check." in messages
    assert "There is no rollback plan." in messages
    assert len(messages) == 8  # seven criteria (high risk) and the plan
    draft.refresh_from_db()
    assert draft.status == ReleaseStatus.DRAFT


@pytest.mark.django_db
def test_a_failed_gate_check_blocks_submission(ready, model_owner):
    services.record_gate_check(
        actor=model_owner, release=ready, criterion="latency", comparison="lte",
        measured_value=420, target=300, unit="ms", evidence_uri="https://grafana/latency",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        services.submit_release(actor=model_owner, release=ready)
    assert caught.value.messages == ["Latency within budget has not passed."]


@pytest.mark.django_db
def test_submission_freezes_the_release(submitted):
    assert submitted.status == ReleaseStatus.IN_REVIEW
    assert submitted.submitted_at is not None
    assert len(submitted.content_digest) == 64


@pytest.mark.django_db
def test_the_service_refuses_to_change_a_submitted_release(submitted, model_owner):
    with pytest.raises(ValidationError, match="frozen"):
        services.update_release(
            actor=model_owner, release=submitted, title="Sneaky", card=CARD, components=stack("9")
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE releases_release SET known_risks = 'none' WHERE id = %(release)s",
        "UPDATE releases_release SET submitted_at = NULL WHERE id = %(release)s",
        "UPDATE releases_release SET change_categories = '{}' WHERE id = %(release)s",
        "DELETE FROM releases_release WHERE id = %(release)s",
        "UPDATE releases_releasecomponent SET digest = repeat('0', 64) "
        "WHERE release_id = %(release)s",
        "DELETE FROM releases_releasecomponent WHERE release_id = %(release)s",
        "INSERT INTO releases_releasecomponent (release_id, kind, version, uri, digest) "
        "VALUES (%(release)s, 'extra', '1', 'x', repeat('0', 64))",
    ],
)
def test_the_database_refuses_any_change_to_a_submitted_release(submitted, statement):
    from django.db import connection

    with (
        pytest.raises(DatabaseError, match="frozen"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, {"release": submitted.pk})


@pytest.mark.django_db
def test_status_still_moves_after_submission(submitted):
    submitted.status = ReleaseStatus.APPROVED
    submitted.save(update_fields=["status"])  # the workflow columns are not frozen


@pytest.mark.django_db
def test_a_draft_can_be_changed_and_the_change_is_audited(draft, model_owner):
    services.update_release(
        actor=model_owner, release=draft, title="Fraud model 2.0.0", card={**CARD, "why": "Drift."},
        components=stack("2.0.1"), change_categories=["new_architecture"],
    )  # fmt: skip
    event = AuditEvent.objects.get(action="release.updated")
    assert event.before["card"]["why"] == CARD["why"]
    assert event.after["card"]["why"] == "Drift."
    assert event.after["stack"]["sdk"]["version"] == "sdk-2.0.1"


@pytest.mark.django_db
def test_a_prohibited_system_cannot_submit(ready, model_owner, owner, fraud):
    from governance import services as governance

    governance.update_system(
        actor=owner, system=fraud, name=fraud.name, slug=fraud.slug,
        intended_purpose=fraud.intended_purpose, risk_category="prohibited",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="prohibited practice"):
        services.submit_release(actor=model_owner, release=ready)

"""Model instances from written-out statements: what select_related and prefetch_related give."""

import pytest
from django.db import connection

from governance import rows
from governance.models import AISystem
from releases.models import Environment, Release, ReleaseComponent

pytestmark = pytest.mark.django_db


def _row(sql: str, *params):  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_a_joined_row_becomes_the_instances_the_orm_would_build(production):
    production.backend_config = {"url": "https://deploy.example.com/rollback", "weights": [1, 2]}
    production.backend_secrets = {"signing_secret": "kept encrypted"}
    production.save()
    row = _row(
        f"SELECT {rows.columns(Environment, 'e')}, {rows.columns(AISystem, 's')} "
        "FROM releases_environment e JOIN governance_aisystem s ON s.id = e.system_id "
        "WHERE e.id = %s",
        production.pk,
    )

    environment, system = rows.instances(row, Environment, AISystem)

    expected = Environment.objects.select_related("system").get(pk=production.pk)
    for field in Environment._meta.concrete_fields:
        assert getattr(environment, field.attname) == getattr(expected, field.attname), field
    assert environment.backend_config["weights"] == [1, 2]  # JSON, decoded
    assert environment.backend_secrets == {"signing_secret": "kept encrypted"}  # decrypted
    assert system == expected.system and system.name == expected.system.name
    assert not environment._state.adding  # saved rows: a save() updates, never inserts twice


def test_a_left_join_that_found_nothing_is_none(production):
    row = _row(
        f"SELECT {rows.columns(Environment, 'e')}, {rows.columns(Release, 'r')} "
        "FROM releases_environment e LEFT JOIN releases_release r ON FALSE WHERE e.id = %s",
        production.pk,
    )

    environment, release = rows.instances(row, Environment, Release)

    assert environment.pk == production.pk
    assert release is None


def test_a_row_that_does_not_fit_the_models_is_refused(production):
    row = _row(f"SELECT {rows.columns(Environment, 'e')}, 1 FROM releases_environment e")

    with pytest.raises(ValueError, match="columns"):
        rows.instances(row, Environment)


def test_prefetched_components_are_read_without_a_query(draft, django_assert_num_queries):
    release = Release.objects.get(pk=draft.pk)
    components = list(ReleaseComponent.objects.filter(release=release).order_by("id"))
    assert components
    assert not rows.is_prefetched(release, "components")

    rows.prefetched(release, "components", components)

    assert rows.is_prefetched(release, "components")
    with django_assert_num_queries(0):
        assert list(release.components.all()) == components


def test_an_insert_that_a_unique_constraint_refuses_writes_nothing_and_ends_no_transaction(
    fraud,
):
    taken = AISystem(name="Another", slug=fraud.slug, intended_purpose="x", risk_category="high")
    assert rows.insert_unless_taken(taken) is False
    assert taken.pk is None and taken._state.adding
    assert AISystem.objects.filter(name="Another").count() == 0  # the transaction goes on

    fresh = AISystem(name="Another", slug="another", intended_purpose="x", risk_category="high")
    assert rows.insert_unless_taken(fresh) is True

    stored = AISystem.objects.get(pk=fresh.pk)
    assert (stored.slug, stored.risk_category) == ("another", "high")
    assert stored.created_at is not None and stored.created_at == fresh.created_at  # auto_now_add
    assert not fresh._state.adding

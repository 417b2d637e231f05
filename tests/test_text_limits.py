"""Every text field has a maximum, the same in the model, the form, the API schema and the
database (governance/limits.py; the README's "Limits" table).

The model side is read from every model of the project's apps, so a text field added
tomorrow without a cap fails here; the database side is probed on a copy of each table
(its column types and CHECK constraints, nothing else), one character under and over.
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from encrypted_fields.fields import EncryptedFieldMixin

from governance import services
from governance.limits import PROSE
from governance.models import AISystem

PROJECT_APPS = ("governance", "releases", "incidents")
WIDE = "字"  # one character, three bytes: caps count characters


def text_fields() -> list[tuple[type[models.Model], models.Field]]:
    found = []
    for app in PROJECT_APPS:
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, (models.CharField, models.TextField)):
                    found.append((model, field))
    return found


def field_id(value: object) -> str:
    if isinstance(value, models.Field):
        return f"{value.model.__name__}.{value.name}"
    return ""


TEXT_FIELDS = text_fields()


def test_there_are_text_fields_to_check():
    assert len(TEXT_FIELDS) > 40


@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS, ids=field_id)
def test_every_text_field_has_a_maximum(model, field):
    assert field.max_length, f"{model.__name__}.{field.name} has no max_length"
    form_field = field.formfield()
    if form_field is not None and not field.choices:
        assert form_field.max_length == field.max_length


@pytest.mark.parametrize(
    ("model", "field"),
    [(m, f) for m, f in TEXT_FIELDS if isinstance(f, models.TextField)],
    ids=field_id,
)
def test_every_capped_text_field_has_its_check_constraint(model, field):
    checks = [
        c
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint)
        and c.condition == LessThanOrEqual(Length(field.name), field.max_length)
    ]
    assert checks, f"{model.__name__}.{field.name}: no CHECK (length <= {field.max_length})"


def _probe(table: str, column: str, length: int) -> bool:
    """Whether the database takes `length` characters in the column, on a copy of the table
    with its column types and this column's CHECK constraints, every other rule dropped."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE probe (LIKE {connection.ops.quote_name(table)} "
                       "INCLUDING CONSTRAINTS)")  # fmt: skip
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'probe'::regclass AND contype = 'c'"
        )
        for name, definition in cursor.fetchall():
            if f"length(({column})" not in definition and f"length({column})" not in definition:
                cursor.execute(f'ALTER TABLE probe DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'probe'::regclass "
            "AND attnum > 0 AND attnotnull AND NOT attisdropped"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE probe ALTER COLUMN "{name}" DROP NOT NULL')
        try:
            with transaction.atomic():
                cursor.execute(f'INSERT INTO probe ("{column}") VALUES (repeat(%s, %s))',
                               [WIDE, length])  # fmt: skip
            taken = True
        except (DataError, IntegrityError):
            taken = False
        cursor.execute("DROP TABLE probe")
    return taken


# An encrypted field's column holds its ciphertext, longer than the text and of no fixed
# ratio to it: the model, the form and the API cap the text; the database cannot.
PLAIN_TEXT_FIELDS = [(m, f) for m, f in TEXT_FIELDS if not isinstance(f, EncryptedFieldMixin)]


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field"), PLAIN_TEXT_FIELDS, ids=field_id)
def test_the_database_refuses_one_character_more(model, field):
    table, column, cap = model._meta.db_table, field.column, field.max_length
    assert _probe(table, column, cap), f"{table}.{column} refuses {cap} characters"
    assert not _probe(table, column, cap + 1), f"{table}.{column} takes {cap + 1} characters"


@pytest.mark.django_db
def test_full_clean_the_service_and_the_database_agree_on_a_cap(registrar):
    too_long = "x" * (PROSE + 1)
    system = AISystem(name="Long", slug="long", intended_purpose=too_long, risk_category="high")
    with pytest.raises(Exception, match="at most 20000"):
        system.full_clean()
    with pytest.raises(Exception, match="intended_purpose"):
        services.create_system(
            actor=registrar, name="Long", intended_purpose=too_long, risk_category="high"
        )
    system = services.create_system(
        actor=registrar, name="Long", intended_purpose="x" * PROSE, risk_category="high"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AISystem.objects.filter(pk=system.pk).update(intended_purpose=too_long)


# Strings the schema need not cap: their values come from a closed set or a fixed format.
_CLOSED = ("enum", "format", "$ref", "allOf", "oneOf")
# References to other objects (a username, a slug, a version): looked up, never stored as
# typed, so a long one is "not found" (400), never a database error.
_REFERENCES = {"owner", "owners", "user", "group", "system", "environment", "to_release",
               "from_release", "target_release", "requested_by", "confirmed_by"}  # fmt: skip


def test_every_string_the_api_takes_has_a_documented_maximum(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    uncapped = []
    for name, component in schema["components"]["schemas"].items():
        # "RollbackRequest" is a model's name, answered, not taken.
        if not name.endswith("Request") or name == "RollbackRequest":
            continue
        for prop, spec in component.get("properties", {}).items():
            items = spec.get("items", {}) if spec.get("type") == "array" else spec
            if items.get("type") != "string" or any(key in items for key in _CLOSED):
                continue
            if prop in _REFERENCES:
                continue
            if "maxLength" not in items:
                uncapped.append(f"{name}.{prop}")
    assert not uncapped, f"strings without maxLength: {uncapped}"


def test_the_schema_states_the_model_caps(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(target))
    components = json.loads(target.read_text())["components"]["schemas"]
    assert components["SystemRequest"]["properties"]["intended_purpose"]["maxLength"] == PROSE
    assert components["ModelCardRequest"]["properties"]["why"]["maxLength"] == PROSE
    assert components["GateCheckRequest"]["properties"]["note"]["maxLength"] == 2_000
    assert components["ApprovalRequest"]["properties"]["comment"]["maxLength"] == 5_000


def _readd_purpose_check(capsys) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    """Drop the intended purpose's check, then add it again as its migration does."""
    from django.db.migrations.state import ProjectState

    from governance.limits import AddLengthCheck

    (constraint,) = [c for c in AISystem._meta.constraints if "intended_purpose" in c.name]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks left pending
        cursor.execute(f'ALTER TABLE governance_aisystem DROP CONSTRAINT "{constraint.name}"')
    operation = AddLengthCheck(model_name="aisystem", constraint=constraint)
    state = ProjectState.from_apps(apps)
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("governance", editor, state, state)
    with connection.cursor() as cursor:
        cursor.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s",
                       [constraint.name])  # fmt: skip
        (validated,) = cursor.fetchone()
    return validated, capsys.readouterr().out


@pytest.mark.django_db
def test_the_migration_validates_a_cap_no_row_exceeds(registrar, capsys):
    services.create_system(
        actor=registrar, name="Short", intended_purpose="x", risk_category="high"
    )
    validated, said = _readd_purpose_check(capsys)
    assert validated and not said


@pytest.mark.django_db
def test_the_migration_keeps_longer_rows_reports_them_and_holds_new_writes(registrar, capsys):
    system = services.create_system(
        actor=registrar, name="Old", intended_purpose="x", risk_category="high"
    )
    with connection.cursor() as cursor:  # a row from before the cap
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE governance_aisystem DROP CONSTRAINT "
                       '"aisystem_intended_purpose_length"')  # fmt: skip
        cursor.execute("ALTER TABLE governance_aisystem ADD CONSTRAINT "
                       '"aisystem_intended_purpose_length" CHECK (true)')  # fmt: skip
    AISystem.objects.filter(pk=system.pk).update(intended_purpose="x" * (PROSE + 5))

    validated, said = _readd_purpose_check(capsys)

    assert not validated
    assert "1 row(s) of governance_aisystem exceed aisystem_intended_purpose_length" in said
    assert len(AISystem.objects.get(pk=system.pk).intended_purpose) == PROSE + 5  # kept
    other = services.create_system(
        actor=registrar, name="New", intended_purpose="x", risk_category="high"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AISystem.objects.filter(pk=other.pk).update(intended_purpose="x" * (PROSE + 1))


@pytest.mark.django_db
def test_what_monitoring_sends_is_cut_to_fit_and_what_people_type_is_refused(fraud, oncall_lead):
    from django.core.exceptions import ValidationError

    from governance.limits import COMMENT, NAME
    from incidents import services as incidents

    incident = incidents.declare_incident(
        actor=None, system=fraud, title="t" * (NAME + 50), severity="sev2",
        category="performance", source="alert", summary="s" * (COMMENT + 50),
    )  # fmt: skip
    assert len(incident.title) == NAME and incident.title.endswith("…")
    assert len(incident.summary) == COMMENT
    with pytest.raises(ValidationError):
        incidents.declare_incident(
            actor=oncall_lead, system=fraud, title="t", severity="sev2",
            category="performance", summary="s" * (COMMENT + 1),
        )  # fmt: skip

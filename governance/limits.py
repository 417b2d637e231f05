"""The longest text each field accepts: one number per kind of text, used by the models, the
forms, the API serializers (and so the OpenAPI schema) and the database alike.

A `CharField` is a varchar(n): the database refuses one character more by itself. A
`TextField`'s max_length is enforced by forms and serializers only, so every capped text
field also gets a CHECK constraint (`length_checks`). tests/test_text_limits.py holds
every model's text fields to both. The README's "Limits" table lists them.
"""

from __future__ import annotations

import sys
from typing import Any

from django.db import models
from django.db.migrations.operations import AddConstraint
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

NAME = 200  # names and titles: what fits on one line of a list
NOTE = 2_000  # a reason, a gate note: a paragraph
COMMENT = 5_000  # an approval's comment, an incident's summary
ERROR = 4_000  # what a backend said when it failed (written by the services, cut to fit)
POST = 10_000  # a timeline post or status update
PROSE = 20_000  # the model card, the intended purpose, a post-mortem's sections
QUERY = 2_000  # a PromQL query (a rollback trigger's, a rollout stage analysis's)


def shorten(text: str, cap: int) -> str:
    """Text a machine composed or passed on (an alert's words, a backend's error), cut to fit
    its field with an ellipsis; what people type is refused beyond the cap instead."""
    return text if len(text) <= cap else text[: cap - 1] + "…"


def length_checks(prefix: str, fields: dict[str, int]) -> list[models.BaseConstraint]:
    """One CHECK (length(field) <= cap) per capped TextField, named `<prefix>_<field>_length`."""
    return [
        models.CheckConstraint(
            condition=LessThanOrEqual(Length(name), cap),
            name=f"{prefix}_{name}_length",
            violation_error_message=f"Ensure this value has at most {cap} characters.",
        )
        for name, cap in fields.items()
    ]


class AddLengthCheck(AddConstraint):
    """A migration's AddConstraint for a length check that never fails on rows written before
    the cap: the constraint is added NOT VALID (every new write is held to it), then
    validated if no row exceeds it; rows that do are kept as written (they may be evidence,
    hashed or append-only) and counted on the migration's output instead."""

    model_name: str
    constraint: models.CheckConstraint

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        quote = schema_editor.quote_name
        table, name = quote(model._meta.db_table), quote(self.constraint.name)
        check = self.constraint._get_check_sql(model, schema_editor)  # type: ignore[attr-defined]
        add = f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID"
        schema_editor.execute(add)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE NOT ({check})")
            (over,) = cursor.fetchone()
        if over:
            sys.stdout.write(
                f"\n  {over} row(s) of {model._meta.db_table} exceed {self.constraint.name}: "
                "kept as written; the cap holds for every new write.\n"
            )
        else:
            schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")

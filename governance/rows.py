"""Model instances from the row of a written-out statement, as `select_related` builds them.

For the few statements written out where someone waits on them (a ROLL BACK NOW press, the
rollback worker before its backend call, an incident action's read and lock): there, the
ORM's compiling of a statement cost more than running it (bench/rollback_latency.py). The
statement selects each model's columns with `columns`; `instances` cuts its row into model
instances, converting each value as the ORM would (JSON, encrypted fields); `prefetched`
leaves related rows read that way where `prefetch_related` would; `insert_unless_taken`
inserts without the savepoint that surviving a unique conflict otherwise takes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import Col, DatabaseDefault


def columns(model: type[Model], alias: str) -> str:
    """The model's columns, in the order `instances` reads them, qualified by `alias`."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def instances(row: Sequence[Any], *models: type[Model]) -> list[Any]:
    """One instance per model, from consecutive runs of `row`; None where a left join found
    no row (its primary key is NULL)."""
    found: list[Any] = []
    start = 0
    for model in models:
        layout = _layout(model)
        values = list(row[start : start + len(layout.attnames)])
        start += len(layout.attnames)
        if values[layout.pk_index] is None:
            found.append(None)
            continue
        for index, converters, col in layout.converters:
            for convert in converters:
                values[index] = convert(values[index], col, connection)
        found.append(model.from_db(connection.alias, layout.attnames, values))
    if start != len(row):
        raise ValueError(f"The row has {len(row)} columns; the models have {start}.")
    return found


def prefetched(instance: Model, name: str, related: list[Any]) -> None:
    """`instance.<name>.all()` returns `related` from now on, without a query: what
    prefetch_related leaves behind (the same three attributes it sets)."""
    queryset = getattr(instance, name).all()  # built, not run
    queryset._result_cache = related
    queryset._prefetch_done = True
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[name] = queryset


def is_prefetched(instance: Model, name: str) -> bool:
    return name in instance.__dict__.get("_prefetched_objects_cache", {})


def insert_unless_taken(instance: Model) -> bool:
    """Insert the unsaved `instance` unless a unique constraint or index already holds its
    values: True and the instance saved, or False and nothing written. The conflict ends
    the statement, not the transaction (ON CONFLICT DO NOTHING), so unlike catching the
    IntegrityError of save() it needs no savepoint around it. No model signals are sent, and
    what the database fills in (db_default) is not read back."""
    meta = instance._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    placeholders, values = [], []
    for field in fields:
        value = field.pre_save(instance, add=True)
        if isinstance(value, DatabaseDefault):  # db_default: the database fills it in
            placeholders.append("DEFAULT")
        else:
            placeholders.append("%s")
            values.append(field.get_db_prep_save(value, connection))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return True


Converter = Callable[[Any, Col, Any], Any]


@dataclass(frozen=True)
class _Layout:
    attnames: list[str]
    pk_index: int
    converters: list[tuple[int, list[Converter], Col]]  # only the columns that have any


@functools.cache
def _layout(model: type[Model]) -> _Layout:
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        col = field.cached_col
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((index, found, col))
    return _Layout(
        attnames=[field.attname for field in fields],
        pk_index=list(fields).index(model._meta.pk),
        converters=converters,
    )

"""Model instances from the row of a written-out statement, as `select_related` builds them.

For the few statements written out where someone waits on them (a ROLL BACK NOW press, the
rollback worker before its backend call, an incident action's read and lock): there, the
ORM's compiling of a statement cost more than running it (bench/rollback_latency.py). The
statement selects each model's columns with `columns`; `instances` cuts its row into model
instances, converting each value as the ORM would (JSON, encrypted fields); `prefetched`
leaves related rows read that way where `prefetch_related` would; `insert_unless_taken`
inserts without the savepoint that surviving a unique conflict otherwise takes;
`insert_pair` writes two rows, the second naming the first, in one round trip; and
`joined_transaction` enters a service without the savepoint a nested `atomic` takes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
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


def _insert_parts(instance: Model) -> tuple[list[str], list[str], list[Any]]:
    """The columns, placeholders and values of inserting the unsaved `instance`."""
    meta = instance._meta
    columns, placeholders, values = [], [], []
    for field in meta.concrete_fields:
        if field is meta.auto_field:
            continue
        columns.append(connection.ops.quote_name(field.column))
        value = field.pre_save(instance, add=True)
        if isinstance(value, DatabaseDefault):  # db_default: the database fills it in
            placeholders.append("DEFAULT")
        else:
            placeholders.append("%s")
            values.append(field.get_db_prep_save(value, connection))
    return columns, placeholders, values


def _saved(instance: Model, pk: Any) -> None:
    instance.pk = pk
    instance._state.adding, instance._state.db = False, connection.alias


def insert_unless_taken(instance: Model) -> bool:
    """Insert the unsaved `instance` unless a unique constraint or index already holds its
    values: True and the instance saved, or False and nothing written. The conflict ends
    the statement, not the transaction (ON CONFLICT DO NOTHING), so unlike catching the
    IntegrityError of save() it needs no savepoint around it. No model signals are sent, and
    what the database fills in (db_default) is not read back."""
    columns, placeholders, values = _insert_parts(instance)
    quote, meta = connection.ops.quote_name, instance._meta
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(instance, row[0])
    return True


def insert_pair(first: Model, second: Model, *, referring: dict[str, str]) -> None:
    """Insert the unsaved `first` and `second` in one statement, one round trip, so that
    values of the second can refer to the first's new primary key: `referring` maps a field
    of the second to the SQL that writes it, where `%s` is its own value and `{first_pk}`
    the first's key (e.g. `%s || jsonb_build_object('entry', {first_pk})` for a JSON field).
    Both saved; no model signals are sent, and neither instance is refreshed from the row
    (a referring field keeps its own value)."""
    quote = connection.ops.quote_name
    columns, placeholders, values = _insert_parts(first)
    later_columns, later_placeholders, later_values = _insert_parts(second)
    first_pk = f"(SELECT {quote(first._meta.pk.column)} FROM earlier)"
    by_name = {field.name: field.column for field in second._meta.concrete_fields}
    for name, sql in referring.items():
        index = later_columns.index(quote(by_name[name]))
        later_placeholders[index] = sql.replace("{first_pk}", first_pk)
    statement = (
        f"WITH earlier AS (INSERT INTO {quote(first._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(placeholders)}) RETURNING {quote(first._meta.pk.column)}), "
        f"later AS (INSERT INTO {quote(second._meta.db_table)} ({', '.join(later_columns)}) "
        f"VALUES ({', '.join(later_placeholders)}) RETURNING {quote(second._meta.pk.column)}) "
        "SELECT earlier.*, later.* FROM earlier, later"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values + later_values)
        first_key, second_key = cursor.fetchone()
    _saved(first, first_key)
    _saved(second, second_key)


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


def joined_transaction() -> contextlib.AbstractContextManager[Any]:
    """The caller's transaction if one is open, else a transaction of its own: for a service
    that refuses (raises) only before its first write and writes only inside blocks of its
    own. Nested, a savepoint would cost two round trips and have nothing to undo."""
    return contextlib.nullcontext() if connection.in_atomic_block else transaction.atomic()

"""The few statements of the sign-in hot path, as SQL text built once and reused.

Tortoise builds every query anew through pypika: measured here at ~130 µs of CPU per statement
on SQLite, ten times what SQLite itself takes to run it, and the PIN step makes six. These helpers
cover the simple shapes those statements have (one row by its columns, an update with a
condition, an insert) and cache the SQL text per shape and dialect, so a call costs a dict lookup
and the driver's own work. Values go through each field's ``to_db_value`` and rows come back
through the model's own ``_init_from_db``, so what is stored and read is exactly what the ORM
would store and read. Everything else stays on the ORM.

Conditions are ``column=value`` pairs; a ``__lt`` or ``__gte`` suffix asks for that comparison.
Column names are this code's constants, never input. :func:`execute` and :func:`fetch_value` run
a statement written out by hand, with ``?`` for each value.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from functools import cache
from typing import Any, TypeVar

from tortoise.models import Model

ModelT = TypeVar("ModelT", bound=Model)

_OPERATORS = {"": "=", "lt": "<", "gte": ">="}


async def fetch_one(model: type[ModelT], **where: object) -> ModelT | None:
    """The row matching ``where`` as a model instance, or None."""
    db = model._meta.db
    sql = _select_sql(model, db.capabilities.dialect, tuple(where))
    _, rows = await db.execute_query(sql, _values(model, where))
    return model._init_from_db(**dict(rows[0])) if rows else None


async def update(model: type[Model], where: Mapping[str, object], changes: Mapping[str, object]) -> int:
    """UPDATE the rows matching ``where``; returns how many changed (0 means the condition failed)."""
    db = model._meta.db
    sql = _update_sql(model, db.capabilities.dialect, tuple(changes), tuple(where))
    count, _ = await db.execute_query(sql, _values(model, changes) + _values(model, where))
    return count


async def insert(model: type[Model], **values: object) -> None:
    """INSERT one row with every column given (its generated id is not read back)."""
    db = model._meta.db
    sql = _insert_sql(model, db.capabilities.dialect, tuple(values))
    await db.execute_query(sql, _values(model, values))


async def insert_returning(model: type[Model], returning: str, **values: object) -> object:
    """INSERT one row and return the SQL expression ``returning`` evaluated for it (no values in it)."""
    db = model._meta.db
    sql = _insert_returning_sql(model, db.capabilities.dialect, tuple(values), returning)
    # execute_query_dict: Tortoise's asyncpg execute_query drops the rows of an INSERT.
    rows = await db.execute_query_dict(sql, _values(model, values))
    return next(iter(rows[0].values()))


async def execute(model: type[Model], sql: str, *values: object) -> int:
    """Run ``sql`` (``?`` for each value, in order) on ``model``'s database; returns the rows changed."""
    db = model._meta.db
    count, _ = await db.execute_query(_in_dialect(sql, db.capabilities.dialect), list(values))
    return count


async def fetch_value(model: type[Model], sql: str, *values: object) -> object:
    """The first column of the first row ``sql`` returns (``?`` for each value), or None."""
    db = model._meta.db
    _, rows = await db.execute_query(_in_dialect(sql, db.capabilities.dialect), list(values))
    return next(iter(dict(rows[0]).values())) if rows else None


def _values(model: type[Model], columns: Mapping[str, object]) -> list[Any]:
    fields = model._meta.fields_map
    return [fields[key.partition("__")[0]].to_db_value(value, model) for key, value in columns.items()]


class _Placeholders:
    """``?`` for SQLite, ``$1, $2, ...`` for PostgreSQL, numbered in the order they are written."""

    def __init__(self, dialect: str) -> None:
        self._numbered = dialect != "sqlite"
        self._count = 0

    def next(self) -> str:
        self._count += 1
        return f"${self._count}" if self._numbered else "?"


def _conditions(keys: tuple[str, ...], marks: _Placeholders) -> str:
    parts = []
    for key in keys:
        name, _, operator = key.partition("__")
        parts.append(f'"{name}" {_OPERATORS[operator]} {marks.next()}')
    return " AND ".join(parts)


@cache
def _in_dialect(sql: str, dialect: str) -> str:
    marks = _Placeholders(dialect)
    return "".join(marks.next() if part == "?" else part for part in re.split(r"(\?)", sql))


@cache
def _select_sql(model: type[Model], dialect: str, where: tuple[str, ...]) -> str:
    return f'SELECT * FROM "{model._meta.db_table}" WHERE {_conditions(where, _Placeholders(dialect))} LIMIT 1'


@cache
def _update_sql(model: type[Model], dialect: str, changes: tuple[str, ...], where: tuple[str, ...]) -> str:
    marks = _Placeholders(dialect)
    assignments = ", ".join(f'"{name}" = {marks.next()}' for name in changes)
    return f'UPDATE "{model._meta.db_table}" SET {assignments} WHERE {_conditions(where, marks)}'


@cache
def _insert_sql(model: type[Model], dialect: str, columns: tuple[str, ...]) -> str:
    marks = _Placeholders(dialect)
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{model._meta.db_table}" ({names}) VALUES ({", ".join(marks.next() for _ in columns)})'


@cache
def _insert_returning_sql(model: type[Model], dialect: str, columns: tuple[str, ...], returning: str) -> str:
    return f"{_insert_sql(model, dialect, columns)} RETURNING {returning}"

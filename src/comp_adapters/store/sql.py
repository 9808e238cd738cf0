"""Small SQL helpers the two backends spell differently: upserts and insert-or-ignore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

import orjson
from pydantic import JsonValue
from sqlalchemy import ColumnElement, Connection, Table, any_, literal
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

CHUNK = 2000
"""Rows per executemany / ids per ``IN (...)``: well under SQLite's 32766 bound variables."""


def insert_ignoring(backend: str, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``table``."""
    dialect = postgresql if backend == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def upsert(backend: str, table: Table, keys: Sequence[str], update: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET`` the ``update`` columns."""
    dialect = postgresql if backend == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in update},
    )


def among(backend: str, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter
    however many values (psycopg would parse a query with thousands of placeholders)."""
    if backend == "postgresql":
        return column == any_(literal(values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def dump_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept as is."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def load_json(text: str | None) -> JsonValue:
    return None if text is None else orjson.loads(text)


def pair_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    pairs: Iterable[tuple[str, str]],
    *,
    equal: Sequence[tuple[str, Any]] = (),
    live_only: bool = False,
) -> list[Any]:
    """The ``columns`` of ``table``'s rows of these (learner, competency) pairs (and the
    ``equal`` (column, value) conditions; ``live_only``: not voided), as tuples.

    Asked per competency for the learners wanting it (``competency = c AND learner IN
    (...)``; ``= ANY(array)`` on PostgreSQL), which a (…, learner, competency) index
    answers by look-ups. The statement is sent as the driver's SQL: SQLAlchemy compiling
    thousands of expanding parameters on every execution cost as much as the read itself.
    Column names come from ``table`` (checked), values travel as parameters.
    """
    names = [table.c[name].name for name in (*columns, *(column for column, _ in equal))]
    wanted = ", ".join(names[: len(columns)])
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    conditions = [f"{name} = {mark}" for name in names[len(columns) :]]
    if live_only:
        conditions.append("NOT voided")
    conditions.append(f"competency = {mark}")
    head = f"SELECT {wanted} FROM {table.name} WHERE {' AND '.join(conditions)} AND learner "  # noqa: S608 - names from the table, values bound
    fixed = tuple(value for _, value in equal)
    learners_of: dict[str, set[str]] = {}
    for learner, competency in pairs:
        learners_of.setdefault(competency, set()).add(learner)
    rows: list[Any] = []
    for competency, learners in sorted(learners_of.items()):
        ordered = sorted(learners)
        if postgres:
            result = connection.exec_driver_sql(head + "= ANY(%s)", (*fixed, competency, ordered))
            rows.extend(result.fetchall())
            continue
        for chunk in chunks(ordered):
            marks = ", ".join("?" * len(chunk))
            result = connection.exec_driver_sql(f"{head}IN ({marks})", (*fixed, competency, *chunk))
            rows.extend(result.fetchall())
    return rows

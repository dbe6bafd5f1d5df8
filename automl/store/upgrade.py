"""Bring a store made by an older version up to the current tables.

New tables come from ``create_all``; a column added to an existing table comes from
:func:`add_missing_columns`, which issues ``ALTER TABLE ... ADD COLUMN`` (the same statement on
SQLite and PostgreSQL) for every column the database lacks. Such columns must be nullable, with
NULL meaning what the old rows meant (say so beside the column in :mod:`automl.store.tables`).
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add the nullable columns of ``metadata``'s tables that the database lacks; returns them
    as ``table.column``. Safe when several processes upgrade at once (the loser finds the
    column there)."""
    added = []
    for table in metadata.sorted_tables:
        for column in _missing(engine, table):
            if not column.nullable:
                raise RuntimeError(f"column {table.name}.{column.name} was added to an existing "
                                   "table: it must be nullable")
            if _add(engine, table.name, column):
                added.append(f"{table.name}.{column.name}")
    return added


def _missing(engine: Engine, table) -> list:
    present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    return [c for c in table.columns if c.name not in present]


def _add(engine: Engine, table: str, column) -> bool:
    quote = engine.dialect.identifier_preparer.quote
    kind = column.type.compile(dialect=engine.dialect)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {kind}"))
    except (OperationalError, ProgrammingError):
        present = {c["name"] for c in inspect(engine).get_columns(table)}
        if column.name not in present:
            raise
        return False
    return True

"""Alembic environment of the store: migrates the connection the caller hands over.

The store runs migrations itself (no alembic.ini): it puts an open connection into
``config.attributes["connection"]``. A developer writing a new revision can point the
``alembic`` command here with ``-x url=sqlite:///scratch.db``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from comp_adapters.store.schema import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the scratch database: alembic -x url=sqlite:///scratch.db ...")
    with create_engine(url).connect() as connection:
        _run(connection)
        connection.commit()


main()

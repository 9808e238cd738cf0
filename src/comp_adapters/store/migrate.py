"""Schema migrations, run by the store itself on first use and after an upgrade.

The Alembic scripts ship inside the package (``comp_adapters/store/migrations``); no
``alembic.ini`` is needed. Migrating holds the database's write lock (SQLite ``BEGIN
IMMEDIATE``, a PostgreSQL advisory transaction lock), so two processes opening a new store at
once migrate it once. A store at a revision this code does not know was written by a newer
version of comp_adapters and is refused: running old code on it could lose data.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from comp_adapters.errors import StoreError
from comp_adapters.store.engine import READONLY
from comp_adapters.store.locks import MIGRATION_LOCK
from comp_adapters.store.schema import VERSION_TABLE

SCRIPTS = "comp_adapters.store:migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    return config


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StoreError("the store's migrations are missing from this installation")
    return head


def known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` for a database the store never used)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, *, shown_as: str) -> str:
    """Bring the database to the newest revision; return it. ``shown_as`` names the store
    in errors (its redacted URL)."""
    head = head_revision()
    with engine.connect().execution_options(**{READONLY: True}) as connection:
        current = current_revision(connection)
    _check_known(current, head, shown_as)
    if current == head:
        return head
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        current = current_revision(connection)  # another process may have migrated meanwhile
        _check_known(current, head, shown_as)
        if current != head:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return head


def _check_known(current: str | None, head: str, shown_as: str) -> None:
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"store {shown_as} is at schema revision {current!r}, which this version of "
            f"comp-adapters does not know (it knows up to {head!r}): the store was written by "
            "a newer comp-adapters. Upgrade comp-adapters to use this store."
        )

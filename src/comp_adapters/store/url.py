"""Store URLs: which database a store lives in, normalised, and shown without its password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from comp_adapters.errors import ConfigurationError

DEFAULT_URL = "sqlite:///.comp-adapters/state.db"
"""The embedded store of a project: a SQLite file next to the project, created on first use."""

Backend = Literal["sqlite", "postgresql"]
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}
_SECRET_QUERY_KEYS = {"password", "passfile", "sslpassword"}


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A parsed store URL: the backend, the SQLAlchemy URL to connect with, the SQLite file."""

    backend: Backend
    url: URL
    path: Path | None = None

    @property
    def redacted(self) -> str:
        """The URL as it may be shown: password (in the user info or the query) masked."""
        return redact_store_url(self.url)

    def __repr__(self) -> str:
        return f"StoreUrl({self.redacted!r})"

    __str__ = __repr__


def redact_store_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` (user info and query parameters).

    Text that is not a URL at all is not echoed (it may be a secret pasted in by mistake).
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<not a database URL>"
    query = {
        key: ("***" if key.lower() in _SECRET_QUERY_KEYS else value)
        for key, value in parsed.query.items()
    }
    return parsed.set(query=query).render_as_string(hide_password=True)


def parse_store_url(text: str) -> StoreUrl:
    """Check and normalise a store URL: ``sqlite:///path`` or ``postgresql://…`` (psycopg 3).

    Raises :class:`ConfigurationError` (naming the URL without its password) for anything
    else: other drivers, an in-memory SQLite database (a store must outlive the process).
    """
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigurationError(
            f"store url {redact_store_url(text)}: not a database URL; use "
            "sqlite:///path/to/state.db or postgresql://user@host/db"
        ) from None
    if url.drivername in _SQLITE_DRIVERS:
        database = url.database or ""
        if database in {"", ":memory:"} or database.startswith("file:"):
            raise ConfigurationError(
                f"store url {redact_store_url(url)}: give the SQLite file, e.g. "
                f"{DEFAULT_URL} (an in-memory store would forget everything at exit)"
            )
        return StoreUrl("sqlite", url.set(drivername="sqlite+pysqlite"), Path(database))
    if url.drivername in _POSTGRES_DRIVERS:
        if not url.database:
            raise ConfigurationError(
                f"store url {redact_store_url(url)}: name the database "
                "(postgresql://user@host/DATABASE)"
            )
        return StoreUrl("postgresql", url.set(drivername="postgresql+psycopg"))
    raise ConfigurationError(
        f"store url {redact_store_url(url)}: unsupported database {url.drivername!r}; "
        "use sqlite:///path (embedded) or postgresql://… (shared, psycopg 3)"
    )

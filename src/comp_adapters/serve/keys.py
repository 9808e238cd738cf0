"""Static API keys, kept hashed in the state store (``comp-adapters serve keys ...``).

A key reads ``cak_<id>_<secret>``: ``id`` (16 hex digits) finds its row, ``secret`` (43
characters, 256 random bits) proves it. The store keeps the id, the SHA-256 of the secret,
the scopes and the viewer the key reads as, never the key itself: it is shown once, when
made. SHA-256 is the right hash for a secret of 256 random bits (a slow password hash such
as scrypt guards short human-chosen secrets, at a cost on every request); the comparison is
constant-time. A revoked key stays listed (who had access, until when) and never works again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, select, update

from comp_adapters.errors import ConfigurationError
from comp_adapters.reports.policy import Viewer
from comp_adapters.store import Store
from comp_adapters.store.engine import Database
from comp_adapters.store.schema import api_keys

PREFIX = "cak_"
SCOPES = ("case.read", "proficiency.read")
_KEY = re.compile(r"^cak_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What the store knows of a key (not the key)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    viewer: Viewer
    created_at: datetime
    revoked_at: datetime | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """Whether a bearer credential is one of our API keys (else it is read as a JWT)."""
    return token.startswith(PREFIX)


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if not wanted or unknown:
        raise ConfigurationError(
            f"scope(s) {', '.join(unknown) or '(none)'}: expected one or more of "
            f"{', '.join(SCOPES)}"
        )
    return wanted


class ApiKeys:
    """The API keys of one store."""

    def __init__(self, store: Store) -> None:
        self._db: Database = store._db

    def add(self, name: str, *, scopes: Iterable[str], viewer: Viewer) -> tuple[str, ApiKey]:
        """Make a key; returns the key text (shown once, never stored) and its record."""
        name = name.strip()
        if not name:
            raise ConfigurationError("an API key needs a --name")
        wanted = check_scopes(scopes)
        if any(key.name == name and key.revoked_at is None for key in self.list()):
            raise ConfigurationError(f"an API key named {name!r} exists: revoke it first")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = ApiKey(
            key_id=key_id,
            name=name,
            scopes=wanted,
            viewer=viewer,
            created_at=self._db.now(),
        )
        with self._db.write("adding an API key") as connection:
            connection.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    name=name,
                    digest=_digest(secret),
                    scopes=" ".join(sorted(wanted)),
                    viewer=str(viewer),
                    created_at=record.created_at,
                )
            )
        return f"{PREFIX}{key_id}_{secret}", record

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._db.read("listing API keys") as connection:
            rows = connection.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
            ).all()
        return [_record(row._mapping) for row in rows]

    def revoke(self, name: str) -> int:
        """Revoke the active key(s) named ``name``; how many were revoked."""
        with self._db.write("revoking an API key") as connection:
            result = connection.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._db.now())
            )
        return int(result.rowcount or 0)

    def verify(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, or None (malformed, unknown, wrong or revoked)."""
        match = _KEY.match(token)
        if match is None:
            return None
        key_id, secret = match.groups()
        with self._db.read("checking an API key") as connection:
            row = connection.execute(
                select(api_keys).where(api_keys.c.key_id == key_id)
            ).one_or_none()
        if row is None:
            return None
        data = row._mapping
        if not hmac.compare_digest(str(data["digest"]), _digest(secret)):
            return None
        record = _record(data)
        return None if record.revoked_at is not None else record


def _record(row: RowMapping) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        scopes=frozenset(str(row["scopes"]).split()),
        viewer=Viewer.parse(row["viewer"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )

"""Which frameworks the server publishes: a small protocol, over files or over the store.

A :class:`FrameworkCatalog` lists the *released* frameworks (the ones a CASE consumer and a
proficiency client may see) and finds one by its CASE document identifier. The server
depends on nothing else, so frameworks from files and the versions released in the store
stand behind the same two methods: :func:`file_catalog` is the catalog of framework files
(``comp-adapters serve --framework FILE``, the bundled example), :class:`StoreCatalog` the
one of the versions released in the store (``comp-adapters serve --released``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from comp_adapters.case.export import framework_to_package
from comp_adapters.case.wire import strict_identifier
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.plugins import detect_format

if TYPE_CHECKING:
    from comp_adapters.governance.versions import FrameworkVersion
    from comp_adapters.store import Store

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReleasedFramework:
    """One framework as released: its CASE document id, when it was released, whether it
    may be read without a credential."""

    framework: Framework
    document_id: str
    released_at: datetime
    """The ``lastChangeDateTime`` of CASE objects that carry none (stable across restarts,
    so answers and their ETags are too)."""
    public: bool = False

    @property
    def key(self) -> str:
        return self.framework.key


@runtime_checkable
class FrameworkCatalog(Protocol):
    """The released frameworks the server publishes."""

    def frameworks(self) -> Sequence[ReleasedFramework]:
        """Every released framework, in a stable order."""
        ...

    def by_document_id(self, identifier: str) -> ReleasedFramework | None:
        """The framework whose CFDocument identifier is ``identifier`` (None: unknown)."""
        ...


def document_id_of(framework: Framework) -> str:
    """The CFDocument identifier the CASE export gives ``framework`` (the same every time)."""
    package, _ = framework_to_package(framework, now=_EPOCH)
    return strict_identifier(package.document.identifier)


class StaticCatalog:
    """A catalog of frameworks held in memory (files read at start, or given by a test)."""

    def __init__(self, released: Iterable[ReleasedFramework]) -> None:
        self._released = list(released)
        self._by_id: dict[str, ReleasedFramework] = {}
        self._by_key: dict[str, ReleasedFramework] = {}
        for item in self._released:
            for index, name in ((self._by_id, item.document_id), (self._by_key, item.key)):
                if name in index:
                    raise ConfigurationError(
                        f"two frameworks to serve have the same key or CASE id {name!r}"
                    )
                index[name] = item

    @classmethod
    def of(
        cls,
        frameworks: Iterable[tuple[Framework, datetime]],
        *,
        public: Iterable[str] = (),
    ) -> StaticCatalog:
        """Frameworks with the instant each was released; ``public`` names (key or CASE
        id) the ones readable without a credential (an unknown name is an error)."""
        wanted = set(public)
        released = []
        for framework, released_at in frameworks:
            identifier = document_id_of(framework)
            released.append(
                ReleasedFramework(
                    framework=framework,
                    document_id=identifier,
                    released_at=released_at,
                    public=framework.key in wanted or identifier in wanted,
                )
            )
        unknown = wanted - {r.key for r in released} - {r.document_id for r in released}
        if unknown:
            raise ConfigurationError(
                f"public framework(s) {', '.join(sorted(unknown))} are not among those served "
                f"({', '.join(r.key for r in released) or 'none'})"
            )
        return cls(released)

    def frameworks(self) -> Sequence[ReleasedFramework]:
        return list(self._released)

    def by_document_id(self, identifier: str) -> ReleasedFramework | None:
        return self._by_id.get(identifier.lower())


def file_catalog(paths: Sequence[Path], *, public: Iterable[str] = ()) -> StaticCatalog:
    """The catalog of framework files (any known format), each released when the file was
    last modified (whole seconds)."""
    if not paths:
        raise ConfigurationError("no framework to serve: give --framework FILE")
    found = []
    for path in paths:
        if not path.is_file():
            raise ConfigurationError(f"framework file {path} not found")
        framework = detect_format(path).read(path)
        found.append((framework, datetime.fromtimestamp(int(path.stat().st_mtime), tz=UTC)))
    return StaticCatalog.of(found, public=public)


def find_framework(catalog: FrameworkCatalog, name: str) -> ReleasedFramework | None:
    """A released framework by key or CASE document id."""
    found = catalog.by_document_id(name)
    if found is not None:
        return found
    return next((r for r in catalog.frameworks() if r.key == name), None)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoreCatalog:
    """The framework versions released in the state store (governance: ``comp-adapters
    framework release``), the one in force now per framework.

    Per framework key: the released version in force now (``effective_from`` passed, not
    yet ``effective_until``), the latest by ``effective_from``; when none is in force yet,
    the latest released. The list is read again at most every ``refresh_s`` seconds, so a
    release shows within that time; a version's document is read (and its content hash
    checked by the store) once.
    """

    def __init__(
        self,
        store: Store,
        *,
        public: Iterable[str] = (),
        clock: Callable[[], datetime] = _utc_now,
        refresh_s: float = 5.0,
    ) -> None:
        self.store = store
        self.public = frozenset(public)
        self.clock = clock
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._released: list[ReleasedFramework] = []
        self._by_id: dict[str, ReleasedFramework] = {}
        self._known: dict[tuple[str, str, str], ReleasedFramework] = {}

    def frameworks(self) -> Sequence[ReleasedFramework]:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.refresh_s:
                self._refresh()
                self._read_at = now
            return list(self._released)

    def by_document_id(self, identifier: str) -> ReleasedFramework | None:
        self.frameworks()
        return self._by_id.get(identifier.lower())

    def _refresh(self) -> None:
        released: list[ReleasedFramework] = []
        at = self.clock()
        for key in self.store.versioned_frameworks():
            versions = [v for v in self.store.framework_versions(key) if v.is_released]
            if not versions:
                continue
            chosen = _in_force(versions, at)
            ref = (key, chosen.version, chosen.content_hash)
            item = self._known.get(ref)
            if item is None:
                stored = self.store.framework_version(key, chosen.version)
                if stored is None:  # pragma: no cover - listed a moment ago
                    continue
                identifier = document_id_of(stored.framework)
                item = ReleasedFramework(
                    framework=stored.framework,
                    document_id=identifier,
                    released_at=chosen.released_at or chosen.created_at,
                    public=key in self.public or identifier in self.public,
                )
                self._known[ref] = item
            released.append(item)
        self._released = released
        self._by_id = {item.document_id: item for item in released}


def _in_force(versions: Sequence[FrameworkVersion], at: datetime) -> FrameworkVersion:
    current = [v for v in versions if v.in_force_at(at)]
    if current:
        return max(current, key=lambda v: (v.effective_from, v.released_at or v.created_at))
    return max(versions, key=lambda v: (v.released_at or v.created_at, v.effective_from))

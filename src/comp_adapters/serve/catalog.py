"""Which frameworks the server publishes: a small protocol and its implementation over files.

A :class:`FrameworkCatalog` lists the *released* frameworks (the ones a CASE consumer and a
proficiency client may see) and finds one by its CASE document identifier. The server
depends on nothing else, so the framework versions kept in the state store (governance)
can stand behind the same two methods. :func:`file_catalog` is the catalog of framework
files (``comp-adapters serve --framework FILE``, the bundled example).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from comp_adapters.case.export import framework_to_package
from comp_adapters.case.wire import strict_identifier
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.plugins import detect_format

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

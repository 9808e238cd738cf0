"""Registries of adapters and file formats: the built-in tables plus installed plug-ins.

Third-party packages add their own through entry points, without touching this project:

.. code-block:: toml

    [project.entry-points."comp_adapters.adapters"]
    totara = "comp_totara.adapter:TotaraAdapter"

    [project.entry-points."comp_adapters.formats"]
    totara-xml = "comp_totara.formats:TOTARA_XML"

Entries are imported only when used, so a broken plug-in cannot stop the CLI from starting:
:func:`adapter_entries` lists it as broken, with the reason, and :func:`get_adapter` refuses
it with a :class:`~comp_adapters.errors.ConfigurationError` naming what is missing.
``COMP_ADAPTERS_NO_PLUGINS=1`` ignores every entry point (only the built-in tables count),
for tests and for ruling a plug-in out when something misbehaves.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.protocols import REQUIRED_METHODS, Capability
from comp_adapters.settings import AdapterSettings

NO_PLUGINS_ENV = "COMP_ADAPTERS_NO_PLUGINS"
"""Set to ``1`` to ignore installed plug-ins (entry points)."""
ADAPTER_GROUP = "comp_adapters.adapters"
FORMAT_GROUP = "comp_adapters.formats"

BUILTIN_ADAPTERS: Mapping[str, str] = {
    "xapi": "comp_adapters.xapi.adapter:XapiAdapter",
    "canvas": "comp_adapters.canvas.adapter:CanvasAdapter",
    "case": "comp_adapters.case.adapter:CaseAdapter",
    "moodle": "comp_adapters.moodle.adapter:MoodleAdapter",
    "framework-file": "comp_adapters.files.framework_file:FrameworkFileAdapter",
    "results-file": "comp_adapters.files.results_file:ResultsFileAdapter",
    "evidence-file": "comp_adapters.files.evidence_file:EvidenceFileAdapter",
}
"""Adapter name -> ``module:attribute`` of its adapter class."""

BUILTIN_FORMATS: Mapping[str, str] = {
    "native": "comp_adapters.formats:NATIVE",
    "canvas-csv": "comp_adapters.canvas.csv_format:CANVAS_CSV",
    "canvas-cartridge": "comp_adapters.canvas.cartridge_format:CANVAS_CARTRIDGE",
    "case": "comp_adapters.case.package_format:CASE_FORMAT",
    "moodle-csv": "comp_adapters.moodle.csv_format:MOODLE_CSV",
}
"""Format name -> ``module:attribute`` of its :class:`FileFormat`."""


@dataclass(frozen=True, slots=True)
class FormatOption:
    """An option a format's writer takes, offered by ``convert`` as ``--<name>``."""

    name: str
    help: str
    choices: tuple[str, ...] = ()
    default: str | None = None


@dataclass(frozen=True, slots=True)
class FileFormat:
    """A file format that holds a framework: how to recognise, read and write it."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path, bytes], bool]
    """True when a file (its path and its first bytes) is in this format."""
    read: Callable[[Path], Framework]
    write: Callable[..., None]
    """``write(framework, path, **options)``; must write atomically (all or nothing)."""
    options: tuple[FormatOption, ...] = field(default=())
    read_with_problems: Callable[[Path], tuple[Framework, list[Problem]]] | None = None
    """Optional ``read`` that also returns the warnings (what had to be adapted)."""
    write_with_problems: Callable[..., list[Problem]] | None = None
    """Optional ``write`` that also returns the warnings (what the format cannot hold)."""

    def read_reporting(self, path: Path) -> tuple[Framework, list[Problem]]:
        """Read ``path``; the warnings too when the format reports them."""
        if self.read_with_problems is not None:
            return self.read_with_problems(path)
        return self.read(path), []

    def write_reporting(self, framework: Framework, path: Path, **options: Any) -> list[Problem]:
        """Write ``framework`` to ``path``; the warnings when the format reports them."""
        if self.write_with_problems is not None:
            return self.write_with_problems(framework, path, **options)
        self.write(framework, path, **options)
        return []


def _load(reference: str, *, what: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load {what} from {reference!r}: {exc}") from exc
    except Exception as exc:  # a plug-in's import may fail any way; it is re-raised
        raise ConfigurationError(
            f"cannot load {what} from {reference!r}: {type(exc).__name__}: {exc}"
        ) from exc


def plugins_disabled() -> bool:
    """Whether ``COMP_ADAPTERS_NO_PLUGINS`` asks to ignore installed plug-ins."""
    return os.environ.get(NO_PLUGINS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _entries(group: str) -> dict[str, str]:
    if plugins_disabled():
        return {}
    return {ep.name: ep.value for ep in entry_points(group=group)}


class Origin(StrEnum):
    """Where an adapter comes from."""

    BUILTIN = "built-in"
    PLUGIN = "plug-in"


@dataclass(frozen=True, slots=True)
class AdapterEntry:
    """One registered adapter: its name, where it points, where it comes from, and either
    the loaded, checked class with its capabilities or, when it is broken, why."""

    name: str
    reference: str
    origin: Origin
    adapter_class: type | None = None
    capabilities: frozenset[Capability] = frozenset()
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.adapter_class is None


def _adapter_table() -> dict[str, tuple[str, Origin]]:
    """Name -> (reference, origin); a built-in wins over a plug-in of the same name."""
    table = {name: (ref, Origin.PLUGIN) for name, ref in _entries(ADAPTER_GROUP).items()}
    table.update({name: (ref, Origin.BUILTIN) for name, ref in BUILTIN_ADAPTERS.items()})
    return table


def adapter_names() -> list[str]:
    """Names of every known adapter, built-in and installed (nothing is imported)."""
    return sorted(_adapter_table())


def load_adapter_class(name: str) -> Any:
    """The adapter class registered as ``name`` (built-ins win over plug-ins), unchecked.

    Prefer :func:`get_adapter`, which also checks the class keeps the adapter contract.
    """
    table = _adapter_table()
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigurationError(f"unknown adapter {name!r} (known: {known})")
    return _load(table[name][0], what=f"adapter {name!r}")


def check_adapter_class(name: str, found: Any) -> frozenset[Capability]:
    """The capabilities of ``found`` once it is checked to be an adapter registered as
    ``name``: a class with ``name``, ``capabilities``, a ``settings_model`` subclass of
    :class:`~comp_adapters.settings.AdapterSettings`, ``from_settings`` and the methods of
    its capabilities (:data:`~comp_adapters.protocols.REQUIRED_METHODS`). Anything missing
    is one :class:`ConfigurationError` listing all of it."""
    if not inspect.isclass(found):
        raise ConfigurationError(f"adapter {name!r} does not point at a class (got {found!r})")
    missing: list[str] = []
    declared = getattr(found, "name", None)
    if declared != name:
        missing.append(f"class attribute name = {name!r} (it has {declared!r})")
    raw = getattr(found, "capabilities", None)
    capabilities: frozenset[Capability] = frozenset()
    if not isinstance(raw, frozenset):
        missing.append("class attribute capabilities (a frozenset of Capability)")
    else:
        try:
            capabilities = frozenset(Capability(item) for item in raw)
        except ValueError as exc:
            missing.append(f"capabilities known to comp_adapters ({exc})")
    model = getattr(found, "settings_model", None)
    if not (inspect.isclass(model) and issubclass(model, AdapterSettings)):
        missing.append("settings_model (a subclass of comp_adapters.settings.AdapterSettings)")
    if not callable(getattr(found, "from_settings", None)):
        missing.append("classmethod from_settings(settings, *, session=None)")
    missing.extend(
        f"method {method}() (required by {capability.value})"
        for capability in sorted(capabilities)
        for method in REQUIRED_METHODS[capability]
        if not callable(getattr(found, method, None))
    )
    if missing:
        raise ConfigurationError(
            f"adapter {name!r} ({found.__module__}.{found.__qualname__}) does not keep the "
            f"adapter contract; it lacks: {'; '.join(dict.fromkeys(missing))}"
        )
    return capabilities


def get_adapter(name: str) -> type:
    """The adapter class registered as ``name``, imported and checked
    (:func:`check_adapter_class`); a :class:`ConfigurationError` says what is wrong."""
    found = load_adapter_class(name)
    check_adapter_class(name, found)
    adapter_class: type = found
    return adapter_class


def adapter_entries() -> list[AdapterEntry]:
    """Every registered adapter, loaded and checked, by name; a broken one (it cannot be
    imported or does not keep the contract) is an entry with its ``error``, never a crash."""
    return [_entry(name, ref, origin) for name, (ref, origin) in sorted(_adapter_table().items())]


def _entry(name: str, reference: str, origin: Origin) -> AdapterEntry:
    try:
        found = load_adapter_class(name)
        capabilities = check_adapter_class(name, found)
    except ConfigurationError as exc:
        return AdapterEntry(name, reference, origin, error=str(exc))
    return AdapterEntry(name, reference, origin, found, capabilities)


def _format_table() -> dict[str, str]:
    """Name -> reference of every format; a built-in wins over a plug-in of the same name.

    Read afresh on each call (plug-ins may be installed meanwhile), but once per call:
    scanning the installed packages' entry points costs ~10 ms."""
    return {**_entries(FORMAT_GROUP), **BUILTIN_FORMATS}


def format_names() -> list[str]:
    """Names of every known file format, built-in and installed."""
    return sorted(_format_table())


def get_format(name: str) -> FileFormat:
    """The file format registered as ``name``."""
    return _format_from(_format_table(), name)


def _format_from(table: Mapping[str, str], name: str) -> FileFormat:
    if name not in table:
        known = ", ".join(sorted(table))
        raise ConfigurationError(f"unknown format {name!r} (known: {known})")
    found = _load(table[name], what=f"format {name!r}")
    if not isinstance(found, FileFormat):
        raise ConfigurationError(f"format {name!r} does not point at a FileFormat")
    return found


def all_formats() -> list[FileFormat]:
    """Every known file format, by name (the entry points are scanned once)."""
    table = _format_table()
    return [_format_from(table, name) for name in sorted(table)]


HEAD_BYTES = 64 * 1024


def detect_format(path: Path) -> FileFormat:
    """The format of an existing file, from its name and first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=str(path))]) from None
    matches = [fmt for fmt in all_formats() if fmt.sniff(path, head)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(fmt.name for fmt in matches) or "none"
    raise ConfigurationError(
        f"{path}: cannot tell the format (matching: {names}); give it with --from"
    )


def format_for_output(path: Path, *, prefer: str | None = None) -> FileFormat:
    """The format to write ``path`` in, from its suffix.

    Where several formats use the suffix (``.csv``, ``.json``), ``prefer`` wins if it is
    one of them (the input's format, or the adapter's own), else ``native``.
    """
    suffix = path.suffix.lower()
    matches = [fmt for fmt in all_formats() if suffix in fmt.suffixes]
    if len(matches) == 1:
        return matches[0]
    for name in (prefer, "native"):
        chosen = [fmt for fmt in matches if fmt.name == name]
        if chosen:
            return chosen[0]
    names = ", ".join(fmt.name for fmt in matches) or "none"
    raise ConfigurationError(
        f"{path}: cannot tell the output format from {suffix or 'no suffix'!r} "
        f"(matching: {names}); give it with --to"
    )

"""Registries of adapters and file formats: the built-in tables plus installed plug-ins.

Third-party packages add their own through entry points, without touching this project:

.. code-block:: toml

    [project.entry-points."comp_adapters.adapters"]
    totara = "comp_totara.adapter:TotaraAdapter"

    [project.entry-points."comp_adapters.formats"]
    totara-xml = "comp_totara.formats:TOTARA_XML"

Entries are imported only when used, so a broken plug-in cannot stop the CLI from starting.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError

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
    "canvas-csv": "comp_adapters.canvas.outcomes_csv:CANVAS_CSV",
    "canvas-cartridge": "comp_adapters.canvas.cartridge:CANVAS_CARTRIDGE",
    "case": "comp_adapters.case.fileformat:CASE_FORMAT",
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


def _entries(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def adapter_names() -> list[str]:
    """Names of every known adapter, built-in and installed."""
    return sorted({**_entries(ADAPTER_GROUP), **BUILTIN_ADAPTERS})


def load_adapter_class(name: str) -> Any:
    """The adapter class registered as ``name`` (built-ins win over plug-ins)."""
    table = {**_entries(ADAPTER_GROUP), **BUILTIN_ADAPTERS}
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigurationError(f"unknown adapter {name!r} (known: {known})")
    return _load(table[name], what=f"adapter {name!r}")


def format_names() -> list[str]:
    """Names of every known file format, built-in and installed."""
    return sorted({**_entries(FORMAT_GROUP), **BUILTIN_FORMATS})


def get_format(name: str) -> FileFormat:
    """The file format registered as ``name``."""
    table = {**_entries(FORMAT_GROUP), **BUILTIN_FORMATS}
    if name not in table:
        known = ", ".join(sorted(table))
        raise ConfigurationError(f"unknown format {name!r} (known: {known})")
    found = _load(table[name], what=f"format {name!r}")
    if not isinstance(found, FileFormat):
        raise ConfigurationError(f"format {name!r} does not point at a FileFormat")
    return found


def all_formats() -> list[FileFormat]:
    return [get_format(name) for name in format_names()]


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

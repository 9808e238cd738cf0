"""Loading ``comp-adapters.toml``: every problem at once, each with its place.

A place reads ``comp-adapters.toml:14: [[target]] #2 "moodle-site", key token: ...``.
Loading checks the file's shape, that each system is a known adapter able to do what its
table asks (read evidence, receive a framework or proficiency), and each adapter's settings
(with ``<name>_env`` entries read from the environment, and ``COMP_ADAPTERS_<NAME>_*``
variables). Secrets are accepted only by reference: a secret written inline is refused.
Paths in settings are relative to the project file's folder.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from comp_adapters.errors import CompAdaptersError, ConfigurationError, Problem, ValidationError
from comp_adapters.plugins import load_adapter_class
from comp_adapters.project.model import (
    ComputeSection,
    EvidenceSection,
    FrameworkSection,
    ProjectFile,
    StoreSection,
    TargetSection,
)
from comp_adapters.project.places import Places, scan
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings, gather

PROJECT_FILE = Path("comp-adapters.toml")
"""The project file ``sync`` commands read when ``--project`` is not given."""
FRAMEWORK_FILE_ADAPTER = "framework-file"
_NEEDS: dict[str, Capability] = {
    "framework": Capability.WRITES_FRAMEWORK,
    "proficiency": Capability.WRITES_PROFICIENCY,
}
_SQLITE = "sqlite:///"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One adapter of the project, with its validated settings: the framework source, an
    evidence source or a target."""

    name: str
    role: str
    """``framework``, ``evidence`` or ``target``."""
    system: str
    adapter_class: Any
    settings: AdapterSettings
    place: str
    receives: tuple[str, ...] = ()
    staging: bool = False

    def build(self, *, session: Any = None) -> Any:
        """The adapter, through its one constructor."""
        return self.adapter_class.from_settings(self.settings, session=session)


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded, checked project."""

    path: Path
    file: ProjectFile
    framework: Endpoint
    framework_key: str
    evidence: tuple[Endpoint, ...]
    targets: tuple[Endpoint, ...]
    store_url: str

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def compute(self) -> ComputeSection:
        return self.file.compute

    @property
    def store(self) -> StoreSection:
        return self.file.store

    def target(self, name: str) -> Endpoint:
        for target in self.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.targets) or "none"
        raise ConfigurationError(f"{self.path}: no [[target]] named {name!r} (known: {known})")


def project_schema() -> dict[str, Any]:
    """The JSON Schema of the project file."""
    schema = ProjectFile.model_json_schema()
    schema["$id"] = "https://comp-adapters.example.org/schema/project.json"
    schema["title"] = "comp-adapters.toml"
    return schema


class _Collector:
    """Problems found so far, each with its place in the file."""

    def __init__(self, path: Path, places: Places) -> None:
        self.path = path
        self.places = places
        self.problems: list[Problem] = []

    def place(self, table: str | None, index: int | None, name: str | None) -> str:
        if table is None:
            return "top level"
        if index is None:
            return f"[{table}]"
        return f"[[{table}]] #{index + 1}" + (f' "{name}"' if name else "")

    def add(
        self,
        message: str,
        *,
        table: str | None,
        index: int | None = None,
        name: str | None = None,
        key: str | None = None,
    ) -> None:
        where = self.place(table, index, name) + (f", key {key}" if key else "")
        self.problems.append(
            Problem(
                f"{where}: {message}",
                file=str(self.path),
                line=self.places.line(table, index, key),
            )
        )


def load_project(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Project:
    """Read and check the project file (default ``./comp-adapters.toml``)."""
    path = Path(path or PROJECT_FILE)
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"project file {path} not found (give one with --project FILE)"
        ) from None
    except UnicodeDecodeError:
        raise ValidationError([Problem("not UTF-8 text", file=str(path))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise ValidationError(
            [
                Problem(
                    f"invalid TOML: {exc}",
                    file=str(path),
                    line=int(found.group(1)) if found else None,
                )
            ]
        ) from None
    collector = _Collector(path, scan(text))
    try:
        model = ProjectFile.model_validate(data)
    except pydantic.ValidationError as exc:
        for item in exc.errors(include_url=False, include_input=False):
            _shape_problem(collector, data, item)
        raise ValidationError(collector.problems) from None
    folder = path.resolve().parent
    framework = _framework(collector, model.framework, folder, environ)
    evidence = tuple(
        endpoint
        for index, section in enumerate(model.evidence)
        if (endpoint := _evidence(collector, index, section, folder, environ)) is not None
    )
    targets = tuple(
        endpoint
        for index, section in enumerate(model.target)
        if (endpoint := _target(collector, index, section, folder, environ)) is not None
    )
    for table, names in (
        ("evidence", [e.name for e in model.evidence]),
        ("target", [t.name for t in model.target]),
    ):
        for index, name in enumerate(names):
            if name in names[:index]:
                collector.add(
                    f"the name {name!r} is used by an earlier [[{table}]]",
                    table=table,
                    index=index,
                    name=name,
                    key="name",
                )
    if not model.target:
        collector.add("no [[target]]: nothing to sync to", table=None)
    if collector.problems or framework is None:
        raise ValidationError(collector.problems)
    return Project(
        path=path,
        file=model,
        framework=framework,
        framework_key=model.framework.key,
        evidence=evidence,
        targets=targets,
        store_url=_store_url(model.store.url, folder),
    )


def _shape_problem(collector: _Collector, data: dict[str, Any], item: Any) -> None:
    loc = [part for part in item["loc"] if part not in {"function-after"}]
    table = str(loc[0]) if loc else None
    index: int | None = None
    rest = loc[1:]
    if rest and isinstance(rest[0], int):
        index = rest[0]
        rest = rest[1:]
    key = str(rest[0]) if rest else None
    name = None
    if index is not None and table in data and isinstance(data[table], list):
        entry = data[table][index] if index < len(data[table]) else None
        name = entry.get("name") if isinstance(entry, dict) else None
    if table is not None and table not in ProjectFile.model_fields:
        collector.add(
            "unknown table (known: framework, evidence, target, compute, store)",
            table=None,
            key=table,
        )
        return
    message = "missing" if item["type"] == "missing" else str(item["msg"])
    collector.add(
        message.removeprefix("Value error, "), table=table, index=index, name=name, key=key
    )


def _store_url(url: str, folder: Path) -> str:
    """A relative SQLite path is relative to the project file's folder."""
    if url.startswith(_SQLITE) and not url.startswith(_SQLITE + "/"):
        return _SQLITE + str(folder / url.removeprefix(_SQLITE))
    return url


def _framework(
    collector: _Collector,
    section: FrameworkSection,
    folder: Path,
    environ: Mapping[str, str],
) -> Endpoint | None:
    if section.file is not None:
        table: dict[str, Any] = {"path": section.file}
        if section.format is not None:
            table["format"] = section.format
        system = FRAMEWORK_FILE_ADAPTER
    else:
        assert section.system is not None  # noqa: S101 - checked by the model
        system = section.system
        table = dict(section.model_extra or {})
        if section.format is not None:
            table["format"] = section.format
    return _endpoint(
        collector,
        role="framework",
        name="framework",
        system=system,
        table=table,
        needs=(Capability.READS_FRAMEWORK,),
        where=("framework", None, None),
        folder=folder,
        environ=environ,
        system_key="file" if section.file is not None else "system",
    )


def _evidence(
    collector: _Collector,
    index: int,
    section: EvidenceSection,
    folder: Path,
    environ: Mapping[str, str],
) -> Endpoint | None:
    return _endpoint(
        collector,
        role="evidence",
        name=section.name,
        system=section.adapter_name,
        table=dict(section.model_extra or {}),
        needs=(Capability.READS_EVIDENCE,),
        where=("evidence", index, section.name),
        folder=folder,
        environ=environ,
        system_key="system" if section.system else "adapter",
    )


def _target(
    collector: _Collector,
    index: int,
    section: TargetSection,
    folder: Path,
    environ: Mapping[str, str],
) -> Endpoint | None:
    receives = section.receives or _writable(section.system)
    if not receives and section.receives is None:
        receives = ("framework", "proficiency")  # refused below with what it cannot do
    found = _endpoint(
        collector,
        role="target",
        name=section.name,
        system=section.system,
        table=dict(section.model_extra or {}),
        needs=tuple(_NEEDS[what] for what in receives),
        where=("target", index, section.name),
        folder=folder,
        environ=environ,
        system_key="system",
        receives_key=True,
    )
    if found is None:
        return None
    return Endpoint(
        name=found.name,
        role=found.role,
        system=found.system,
        adapter_class=found.adapter_class,
        settings=found.settings,
        place=found.place,
        receives=tuple(dict.fromkeys(receives)),
        staging=section.staging,
    )


def _writable(system: str) -> tuple[str, ...]:
    """What an adapter can receive (none when it is unknown: reported by _endpoint)."""
    try:
        capabilities = frozenset(getattr(load_adapter_class(system), "capabilities", ()))
    except ConfigurationError:
        return ()
    return tuple(what for what, needs in _NEEDS.items() if needs in capabilities)


def _endpoint(
    collector: _Collector,
    *,
    role: str,
    name: str,
    system: str,
    table: dict[str, Any],
    needs: tuple[Capability, ...],
    where: tuple[str, int | None, str | None],
    folder: Path,
    environ: Mapping[str, str],
    system_key: str,
    receives_key: bool = False,
) -> Endpoint | None:
    tab, index, shown = where
    place = collector.place(tab, index, shown)

    def problem(message: str, key: str | None) -> None:
        collector.add(message, table=tab, index=index, name=shown, key=key)

    try:
        cls = load_adapter_class(system)
    except ConfigurationError as exc:
        problem(str(exc), system_key)
        return None
    capabilities = frozenset(getattr(cls, "capabilities", frozenset()))
    missing = [c for c in needs if c not in capabilities]
    if missing:
        wants = ", ".join(c.value for c in missing)
        problem(
            f"adapter {system!r} cannot do what this table asks ({wants})",
            "receives" if receives_key else system_key,
        )
        return None
    model: type[AdapterSettings] = cls.settings_model
    ok = True
    for key, value in table.items():
        field = model.model_fields.get(key)
        if field is not None and "SecretStr" in str(field.annotation) and value is not None:
            problem(
                "a secret written in the project file is refused: give "
                f'{key}_env = "VARIABLE" naming the environment variable that holds it',
                key,
            )
            ok = False
    if not ok:
        return None
    section = f"{role}-{name}" if role != "framework" else "framework"
    try:
        values = gather(section, config={section: table}, environ=environ)
    except ConfigurationError as exc:
        problem(str(exc).split("] ", 1)[-1], _key_in(str(exc), table))
        return None
    try:
        settings = model.model_validate(values)
    except pydantic.ValidationError as exc:
        for item in exc.errors(include_url=False, include_input=False):
            setting = ".".join(str(part) for part in item["loc"]) or None
            message = "missing" if item["type"] == "missing" else str(item["msg"])
            problem(f"{system} setting: {message.removeprefix('Value error, ')}", setting)
        return None
    except CompAdaptersError as exc:
        problem(str(exc), None)
        return None
    return Endpoint(
        name=name,
        role=role,
        system=system,
        adapter_class=cls,
        settings=_relative_to(settings, folder),
        place=place,
    )


def _key_in(message: str, table: Mapping[str, Any]) -> str | None:
    return next((key for key in table if key in message), None)


def _relative_to(settings: AdapterSettings, folder: Path) -> AdapterSettings:
    """The settings with every relative path made relative to ``folder``."""
    update = {
        name: folder / value
        for name, value in settings
        if isinstance(value, Path) and not value.is_absolute()
    }
    return settings.model_copy(update=update) if update else settings

"""CASE CFPackage JSON as a registered file format (``--from case`` / ``--to case``).

The I/O edge of the CASE mapping: it reads and writes files and takes the current time
for objects that carry no ``lastChangeDateTime`` (the mapping itself is pure). Writes are
atomic: input that cannot be read, or a framework that cannot be written, leaves no file.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comp_adapters._files import atomic_write, read_json_file
from comp_adapters.case.export import framework_to_package
from comp_adapters.case.lenient import parse_package
from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.wire import CASE_VERSIONS, CaseVersion, dump_package_reporting
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem
from comp_adapters.native import FORMAT_MARK
from comp_adapters.plugins import FileFormat, FormatOption

_CASE_KEY = re.compile(rb'"(CFDocument|CFItems|CFAssociations)"\s*:')


def sniff_case(path: Path, head: bytes) -> bool:
    """A ``.json`` file with a ``"CFDocument"``, ``"CFItems"`` or ``"CFAssociations"`` member
    in its first bytes (a CFPackage, whatever its key order), and not a native file."""
    if path.suffix.lower() != ".json":
        return False
    return bool(_CASE_KEY.search(head)) and FORMAT_MARK.encode() not in head


def read_case_data(data: Any, *, source: str | None = None) -> tuple[Framework, list[Problem]]:
    """A framework from parsed CFPackage JSON, with the warnings of reading and mapping it."""
    package, read_warnings = parse_package(data, source=source)
    framework, map_warnings = package_to_framework(package, source=source)
    return framework, [*read_warnings, *map_warnings]


def read_case_reporting(path: Path) -> tuple[Framework, list[Problem]]:
    """Read a CFPackage file (CASE 1.0, 1.1 or older); every error is located."""
    return read_case_data(read_json_file(path), source=str(path))


def read_case(path: Path) -> Framework:
    return read_case_reporting(path)[0]


def case_json(
    framework: Framework,
    *,
    now: datetime,
    version: CaseVersion = "1.1",
    creator: str | None = None,
    base_uri: str | None = None,
) -> tuple[str, list[Problem]]:
    """The CFPackage JSON text of a framework, and the warnings about what was adapted."""
    package, problems = framework_to_package(
        framework, now=now, version=version, creator=creator, base_uri=base_uri
    )
    data, written = dump_package_reporting(package, version=version, now=now)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text + "\n", [*problems, *written]


def write_case_reporting(
    framework: Framework,
    path: Path,
    *,
    case_version: str = "1.1",
    case_creator: str | None = None,
    case_base_uri: str | None = None,
    now: datetime | None = None,
) -> list[Problem]:
    """Write a framework as a CFPackage (atomically); returns the warnings."""
    if case_version not in CASE_VERSIONS:
        raise ConfigurationError(
            f"unknown CASE version {case_version!r} (known: {', '.join(CASE_VERSIONS)})"
        )
    version: CaseVersion = "1.0" if case_version == "1.0" else "1.1"
    text, problems = case_json(
        framework,
        now=now or datetime.now(UTC),
        version=version,
        creator=case_creator,
        base_uri=case_base_uri,
    )
    with atomic_write(path) as handle:
        handle.write(text)
    return [p.with_file(str(path)) for p in problems]


def write_case(framework: Framework, path: Path, **options: Any) -> None:
    write_case_reporting(framework, path, **options)


CASE_FORMAT = FileFormat(
    name="case",
    description="IMS CASE CFPackage JSON (reads 1.0, 1.1 and older exports; writes 1.1 or 1.0)",
    suffixes=(".json",),
    sniff=sniff_case,
    read=read_case,
    write=write_case,
    options=(
        FormatOption(
            name="case-version",
            help="CASE version to write",
            choices=CASE_VERSIONS,
            default="1.1",
        ),
        FormatOption(
            name="case-creator",
            help="CFDocument creator for a framework that names none",
        ),
        FormatOption(
            name="case-base-uri",
            help="base of the URIs of new CASE objects ({base}/uri/{identifier}); "
            "default urn:uuid:{identifier}",
        ),
    ),
    read_with_problems=read_case_reporting,
    write_with_problems=write_case_reporting,
)
"""The ``case`` entry of :data:`comp_adapters.plugins.BUILTIN_FORMATS`."""

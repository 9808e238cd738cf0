"""The native framework format as a registered :class:`~comp_adapters.plugins.FileFormat`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.native import FORMAT_MARK, dump_framework, load_framework
from comp_adapters.plugins import FileFormat

_NATIVE_MARK = re.compile(rb'"format"\s*:\s*"' + re.escape(FORMAT_MARK.encode()) + rb'"')
_YAML_MARK = re.compile(rb"^format:\s*['\"]?" + re.escape(FORMAT_MARK.encode()), re.MULTILINE)


def _sniff_native(path: Path, head: bytes) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return bool(_YAML_MARK.search(head)) or (b"competencies:" in head and b"scale:" in head)
    if suffix != ".json":
        return False
    if _NATIVE_MARK.search(head):
        return True
    return b'"competencies"' in head and b'"scale"' in head and b'"CFDocument"' not in head


def _write_native(framework: Framework, path: Path, **_options: Any) -> None:
    dump_framework(framework, path)


NATIVE = FileFormat(
    name="native",
    description="comp_adapters framework document (JSON, or YAML with the yaml extra)",
    suffixes=(".json", ".yaml", ".yml"),
    sniff=_sniff_native,
    read=load_framework,
    write=_write_native,
)

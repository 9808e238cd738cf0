"""Settings and the one way to connect: the folder, as a small client over its files.

Filled by comp-adapters from the ``[json-dir]`` table of ``comp-adapters.toml``, then
``COMP_ADAPTERS_JSON_DIR_*`` variables, then flags (``--dir``, generated from the field).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

import requests
from pydantic import Field

from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.settings import AdapterSettings


class JsonDirSettings(AdapterSettings):
    dir: Path = Field(description="Folder that holds the frameworks and results")
    create: bool = Field(default=True, description="Create the folder when it is missing")


def part(key: str) -> str:
    """A key as one safe path part: percent-encoded (``/`` too), so any key fits."""
    return quote(key, safe="")


def key_of(name: str) -> str:
    """The key a file or folder name stands for."""
    return unquote(name.removesuffix(".json"))


class Folder:
    """The files of a JSON folder: read, write atomically, delete, list."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, *parts: str) -> object | None:
        path = self.root.joinpath(*parts)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data: object = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                [Problem(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno)]
            ) from None
        return data

    def names(self, *parts: str) -> list[str]:
        folder = self.root.joinpath(*parts)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.suffix == ".json")

    def folders(self, *parts: str) -> list[str]:
        folder = self.root.joinpath(*parts)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir())

    def write(self, data: object, *parts: str) -> None:
        path = self.root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            Path(tmp).replace(path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
            raise

    def delete(self, *parts: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.root.joinpath(*parts).unlink()


def connect(settings: JsonDirSettings, *, session: requests.Session | None = None) -> Folder:
    """The folder of ``settings`` (``session`` is accepted and unused: no HTTP here)."""
    del session
    root = settings.dir.expanduser().resolve()
    if not root.is_dir():
        if not settings.create or root.exists():
            raise ConfigurationError(f"json-dir setting 'dir': {root} is not a folder")
        root.mkdir(parents=True)
    return Folder(root)

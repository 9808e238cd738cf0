"""Reading a mapping config (:class:`~comp_adapters.xapi.mapping.MappingConfig`) from a file.

Kept apart from :mod:`~comp_adapters.xapi.mapping`, which stays pure (no files, no HTTP,
no clock): this module only parses JSON or TOML and hands the data to
:func:`~comp_adapters.xapi.mapping.mapping_from_data`, whose problems name the file and
field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from comp_adapters._files import read_json_file
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.xapi.mapping import MappingConfig, mapping_from_data


def load_mapping(path: str | Path) -> MappingConfig:
    """Read a mapping config from JSON or TOML (by suffix); problems name the file and field."""
    source = str(path)
    target = Path(path)
    if target.suffix.lower() == ".toml":
        try:
            with target.open("rb") as handle:
                data: Any = tomllib.load(handle)
        except FileNotFoundError:
            raise ValidationError([Problem("file not found", file=source)]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError([Problem(f"invalid TOML: {exc}", file=source)]) from None
    else:
        data = read_json_file(target)
    return mapping_from_data(data, source=source)


def load_optional_mapping(path: str | Path | None) -> MappingConfig:
    """The mapping in ``path``, or the default mapping when no file is given."""
    return load_mapping(path) if path is not None else MappingConfig()


__all__ = ["load_mapping", "load_optional_mapping"]
